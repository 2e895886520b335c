/* device.h — moving a tensor the runtime owns between devices; not part of the API. */
#ifndef SS_CORE_DEVICE_H
#define SS_CORE_DEVICE_H

#include "core/internal.h"

/* Replaces *t by a copy on `device` (nothing to do when it is there already);
 * on failure *t is left as it was. */
int ss_tensor_move(ss_tensor **t, int device);

#endif

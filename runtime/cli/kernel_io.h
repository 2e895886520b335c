/* kernel_io.h — the Jupyter kernel's helper threads, around the main thread that runs Lua:
 *
 *   heartbeat  zmq_proxy_steerable(hb, hb): echoes every ping, whatever Lua is doing.
 *   iopub      owns the PUB socket. The main thread sends it finished messages over an inproc
 *              PAIR; it also reads the pipes that replace fds 1 and 2, so C printf and Lua's
 *              print reach the notebook as `stream` messages while a cell runs. It drains the
 *              pipes before each message from the main thread, so outputs keep their order.
 *   control    owns the control ROUTER: answers interrupt_request itself (SIGINT to the main
 *              thread, so it works while a cell runs) and passes every other request to the
 *              main thread over an inproc PAIR, and the main thread's replies back.
 *
 * SIGINT is blocked in all three, so Jupyter's signal reaches the thread that runs Lua. */
#ifndef SS_CLI_KERNEL_IO_H
#define SS_CLI_KERNEL_IO_H

#include <pthread.h>

#include <cjson/cJSON.h>

#include "kernel_wire.h"

typedef struct kio kio;

/* Writes a line to the kernel's log (the stderr Jupyter gave the kernel, not the notebook). */
void kio_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Binds the iopub, heartbeat and control sockets on their endpoints, replaces fds 1 and 2 by
 * pipes and starts the threads. NULL with the reason in err when something fails. */
kio *kio_start(void *ctx, const char *iopub_ep, const char *hb_ep, const char *control_ep, const kw_key *key,
               const char *session, char *err, size_t errlen);
/* The main thread's end of the control PAIR: requests arrive here (kw_recv), replies go back
 * through kio_reply_control. */
void *kio_control(kio *io);
int kio_reply_control(kio *io, const kw_msg *req, const char *msg_type, const cJSON *content);
/* The parent header of the stream messages from now on. */
int kio_set_parent(kio *io, const cJSON *parent);
/* Publishes a message on iopub, after whatever stdout and stderr hold so far. */
int kio_publish(kio *io, const char *msg_type, const cJSON *parent, const cJSON *content);
/* Returns once every output so far has been published. */
int kio_barrier(kio *io);
/* Stops the threads, closes their sockets and puts fds 1 and 2 back. */
void kio_stop(kio *io);

#endif

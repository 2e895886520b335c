/* kernel_wire.h — the Jupyter wire format (messaging protocol 5.3) over ZeroMQ:
 *
 *   [identities...] "<IDS|MSG>" signature header parent_header metadata content [buffers...]
 *
 * The signature is the hex HMAC-SHA256 (libsodium) of the four JSON frames under the
 * connection file's key; an empty key means unsigned messages. JSON through cJSON. */
#ifndef SS_CLI_KERNEL_WIRE_H
#define SS_CLI_KERNEL_WIRE_H

#include <stddef.h>

#include <cjson/cJSON.h>

/* The connection file's key (may be empty: no signatures). */
typedef struct kw_key {
    unsigned char *bytes;
    size_t len;
} kw_key;

/* One frame to send before the delimiter: a routing identity, a PUB topic. */
typedef struct kw_frame {
    const void *data;
    size_t len;
} kw_frame;

/* A received message. ids are the frames before the delimiter (copies). */
typedef struct kw_msg {
    int nids;
    kw_frame *ids;
    cJSON *header, *parent, *metadata, *content;
    const char *msg_type; /* in header */
} kw_msg;

enum { KW_OK = 0, KW_BAD = -1, KW_ZMQ = -2 };

/* Receives one message from sock. KW_OK; KW_BAD when it is malformed or its signature is
 * wrong (why in err; the message is consumed and must be dropped); KW_ZMQ when zmq_msg_recv
 * failed (errno: EAGAIN, EINTR, ETERM). */
int kw_recv(void *sock, const kw_key *key, kw_msg *m, char *err, size_t errlen);
void kw_msg_free(kw_msg *m);

/* A new header {msg_id, session, username, date, msg_type, version "5.3"}. */
cJSON *kw_header(const char *session, const char *msg_type);

/* Signs and sends prefix frames, the delimiter, the signature and the four JSON frames
 * (parent and metadata may be NULL: {}). 0, or -1 when zmq failed (errno). */
int kw_send(void *sock, const kw_key *key, const kw_frame *prefix, int nprefix, const cJSON *header,
            const cJSON *parent, const cJSON *metadata, const cJSON *content);

/* Moves the remaining frames of the message being received on `from` to `to`; with
 * `first` (not NULL) already received, it is sent first. 0, or -1 (errno). */
int kw_forward(void *from, void *to, void *first_msg);

/* A cJSON string of s[0..n) with invalid UTF-8 replaced by U+FFFD (Lua strings and program
 * output are bytes; JSON text must be UTF-8). */
cJSON *kw_string(const char *s, size_t n);
/* How many bytes of s[0..n) end on a character boundary: a multi-byte character cut at the
 * end is left for the next read. */
size_t kw_utf8_complete(const char *s, size_t n);

/* A random UUID4 string into buf (37 bytes). */
void kw_uuid(char buf[37]);

#endif

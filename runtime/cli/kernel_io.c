/* kernel_io.c — the kernel's heartbeat, iopub and control threads; see kernel_io.h. */
#define _GNU_SOURCE /* pipe2 */
#include "kernel_io.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zmq.h>

#define PIPE_CHUNK 65536
#define STREAM_MAX (1 << 20) /* one stream message holds at most this much output */

struct kio {
    const kw_key *key;
    char session[64];
    pthread_t main_th;
    /* iopub: the thread owns pub, iopub_t, the read ends and parent; main owns iopub_m */
    void *pub, *iopub_t, *iopub_m;
    int rd[2];      /* read ends of the stdout and stderr pipes, -1 once closed */
    int saved[2];   /* fds 1 and 2 as Jupyter gave them */
    char carry[2][4]; /* a UTF-8 character cut at the end of the last read */
    size_t ncarry[2];
    cJSON *parent;
    pthread_t iopub_th;
    /* heartbeat */
    void *hb, *hb_ctl_t, *hb_ctl_m;
    pthread_t hb_th;
    /* control */
    void *router, *control_t, *control_m;
    pthread_t control_th;
    int running; /* threads started */
};

static int log_fd = 2;

void kio_log(const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    int n = snprintf(line, sizeof line, "scalespace kernel: ");
    va_start(ap, fmt);
    n += vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (n > (int)sizeof line - 2) n = (int)sizeof line - 2;
    line[n++] = '\n';
    ssize_t w = write(log_fd, line, (size_t)n);
    (void)w;
}

/* ------------------------------------------------------------------ iopub */

static void publish_stream(kio *io, int which, const char *text, size_t n)
{
    static const char *const names[2] = {"stdout", "stderr"};
    cJSON *content = cJSON_CreateObject();
    cJSON_AddStringToObject(content, "name", names[which]);
    cJSON_AddItemToObject(content, "text", kw_string(text, n));
    cJSON *header = kw_header(io->session, "stream");
    kw_frame topic = {"stream", 6};
    if (kw_send(io->pub, io->key, &topic, 1, header, io->parent, NULL, content) < 0)
        kio_log("iopub: cannot publish output: %s", zmq_strerror(errno));
    cJSON_Delete(header);
    cJSON_Delete(content);
}

/* Publishes what pipe `which` holds now, whole characters only. */
static void drain(kio *io, int which)
{
    static char buf[STREAM_MAX + 4];
    size_t n;
    int more = 1;
    while (more && io->rd[which] >= 0) {
        memcpy(buf, io->carry[which], io->ncarry[which]);
        n = io->ncarry[which];
        io->ncarry[which] = 0;
        more = 0;
        while (n < STREAM_MAX) {
            size_t want = STREAM_MAX - n < PIPE_CHUNK ? STREAM_MAX - n : PIPE_CHUNK;
            ssize_t r = read(io->rd[which], buf + n, want);
            if (r > 0) {
                n += (size_t)r;
                more = n >= STREAM_MAX; /* a full message: publish it, then read on */
                continue;
            }
            if (r < 0 && errno == EINTR) continue;
            if (r == 0) { /* the write end went away */
                close(io->rd[which]);
                io->rd[which] = -1;
            }
            break; /* EAGAIN: nothing more now */
        }
        size_t whole = io->rd[which] >= 0 ? kw_utf8_complete(buf, n) : n;
        io->ncarry[which] = n - whole;
        memcpy(io->carry[which], buf + whole, n - whole);
        if (whole > 0) publish_stream(io, which, buf, whole);
    }
}

/* Messages from the main thread start with a tag frame: 'M' (a message for PUB follows),
 * 'P' (the parent header's JSON follows), 'B' (barrier: answer 'B' once the pipes are
 * drained) or 'Q' (quit). */
static void *iopub_main(void *arg)
{
    kio *io = arg;
    for (;;) {
        zmq_pollitem_t items[3] = {{io->iopub_t, 0, ZMQ_POLLIN, 0}, {NULL, io->rd[0], ZMQ_POLLIN, 0},
                                   {NULL, io->rd[1], ZMQ_POLLIN, 0}};
        int nitems = 1;
        if (io->rd[0] >= 0) nitems = 2;
        if (io->rd[1] >= 0) items[nitems++] = items[2];
        if (zmq_poll(items, nitems, -1) < 0) {
            if (errno == EINTR) continue;
            kio_log("iopub: poll failed: %s", zmq_strerror(errno));
            break;
        }
        for (int i = 1; i < nitems; i++)
            if (items[i].revents & (ZMQ_POLLIN | ZMQ_POLLERR)) drain(io, items[i].fd == io->rd[0] ? 0 : 1);
        if (!(items[0].revents & ZMQ_POLLIN)) continue;
        zmq_msg_t tag;
        zmq_msg_init(&tag);
        if (zmq_msg_recv(&tag, io->iopub_t, 0) < 0) {
            zmq_msg_close(&tag);
            if (errno == EINTR) continue;
            break;
        }
        char t = zmq_msg_size(&tag) > 0 ? *(char *)zmq_msg_data(&tag) : '?';
        zmq_msg_close(&tag);
        drain(io, 0);
        drain(io, 1);
        if (t == 'M') {
            if (kw_forward(io->iopub_t, io->pub, NULL) < 0) kio_log("iopub: cannot publish: %s", zmq_strerror(errno));
        } else if (t == 'P') {
            zmq_msg_t p;
            zmq_msg_init(&p);
            if (zmq_msg_recv(&p, io->iopub_t, 0) >= 0) {
                cJSON_Delete(io->parent);
                io->parent = cJSON_ParseWithLength(zmq_msg_data(&p), zmq_msg_size(&p));
            }
            zmq_msg_close(&p);
        } else if (t == 'B') {
            zmq_send(io->iopub_t, "B", 1, 0);
        } else if (t == 'Q') {
            break;
        }
    }
    zmq_close(io->pub);
    zmq_close(io->iopub_t);
    return NULL;
}

/* ------------------------------------------------------------------ heartbeat */

static void *hb_main(void *arg)
{
    kio *io = arg;
    /* a ROUTER proxied to itself sends each ping back to its sender */
    if (zmq_proxy_steerable(io->hb, io->hb, NULL, io->hb_ctl_t) < 0 && errno != ETERM)
        kio_log("heartbeat: %s", zmq_strerror(errno));
    zmq_close(io->hb);
    zmq_close(io->hb_ctl_t);
    return NULL;
}

/* ------------------------------------------------------------------ control */

/* From the main thread: 'R' (a reply for the ROUTER follows) or 'Q' (quit). */
static void *control_main(void *arg)
{
    kio *io = arg;
    char err[256];
    for (;;) {
        zmq_pollitem_t items[2] = {{io->router, 0, ZMQ_POLLIN, 0}, {io->control_t, 0, ZMQ_POLLIN, 0}};
        if (zmq_poll(items, 2, -1) < 0) {
            if (errno == EINTR) continue;
            kio_log("control: poll failed: %s", zmq_strerror(errno));
            break;
        }
        if (items[1].revents & ZMQ_POLLIN) {
            char t = '?';
            if (zmq_recv(io->control_t, &t, 1, 0) < 0) continue;
            if (t == 'Q') break;
            if (kw_forward(io->control_t, io->router, NULL) < 0)
                kio_log("control: cannot send a reply: %s", zmq_strerror(errno));
        }
        if (items[0].revents & ZMQ_POLLIN) {
            kw_msg m;
            int rc = kw_recv(io->router, io->key, &m, err, sizeof err);
            if (rc == KW_BAD) kio_log("control: %s", err);
            if (rc != KW_OK) continue;
            if (strcmp(m.msg_type, "interrupt_request") == 0) {
                pthread_kill(io->main_th, SIGINT); /* handled as Jupyter's signal would be */
                cJSON *h = kw_header(io->session, "interrupt_reply"), *c = cJSON_CreateObject();
                cJSON_AddStringToObject(c, "status", "ok");
                kw_send(io->router, io->key, m.ids, m.nids, h, m.header, NULL, c);
                cJSON_Delete(h);
                cJSON_Delete(c);
            } else if (kw_send(io->control_t, io->key, m.ids, m.nids, m.header, m.parent, m.metadata, m.content) < 0) {
                kio_log("control: cannot pass on %s: %s", m.msg_type, zmq_strerror(errno));
            }
            kw_msg_free(&m);
        }
    }
    zmq_close(io->router);
    zmq_close(io->control_t);
    return NULL;
}

/* ------------------------------------------------------------------ start and stop */

static void *new_socket(void *ctx, int type, const char *ep, int bind, char *err, size_t errlen)
{
    void *s = zmq_socket(ctx, type);
    int linger = 1000; /* replies already queued get out at exit, but never hold it up long */
    if (s) zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    if (s && (bind ? zmq_bind(s, ep) : zmq_connect(s, ep)) == 0) return s;
    snprintf(err, errlen, "cannot %s %s: %s", bind ? "bind" : "connect", ep, zmq_strerror(errno));
    if (s) zmq_close(s);
    return NULL;
}

/* fd (1 or 2) becomes the write end of a new pipe; the read end (non-blocking) is returned
 * and the old fd saved. -1 on failure. */
static int capture_fd(int fd, int *saved)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) return -1;
    *saved = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    if (*saved < 0 || dup2(p[1], fd) < 0) {
        close(p[0]);
        close(p[1]);
        return -1;
    }
    close(p[1]);
    fcntl(p[0], F_SETFL, fcntl(p[0], F_GETFL) | O_NONBLOCK);
    return p[0];
}

static void close_sockets(kio *io)
{
    void *all[] = {io->pub, io->iopub_t, io->iopub_m, io->hb, io->hb_ctl_t, io->hb_ctl_m, io->router, io->control_t, io->control_m};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (all[i]) zmq_close(all[i]);
}

kio *kio_start(void *ctx, const char *iopub_ep, const char *hb_ep, const char *control_ep, const kw_key *key,
               const char *session, char *err, size_t errlen)
{
    kio *io = calloc(1, sizeof *io);
    if (!io) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    io->key = key;
    snprintf(io->session, sizeof io->session, "%s", session);
    io->main_th = pthread_self();
    io->rd[0] = io->rd[1] = io->saved[0] = io->saved[1] = -1;
    int ok = (io->pub = new_socket(ctx, ZMQ_PUB, iopub_ep, 1, err, errlen)) &&
             (io->hb = new_socket(ctx, ZMQ_ROUTER, hb_ep, 1, err, errlen)) &&
             (io->router = new_socket(ctx, ZMQ_ROUTER, control_ep, 1, err, errlen)) &&
             (io->iopub_t = new_socket(ctx, ZMQ_PAIR, "inproc://ss-iopub", 1, err, errlen)) &&
             (io->iopub_m = new_socket(ctx, ZMQ_PAIR, "inproc://ss-iopub", 0, err, errlen)) &&
             (io->hb_ctl_t = new_socket(ctx, ZMQ_PAIR, "inproc://ss-hb", 1, err, errlen)) &&
             (io->hb_ctl_m = new_socket(ctx, ZMQ_PAIR, "inproc://ss-hb", 0, err, errlen)) &&
             (io->control_t = new_socket(ctx, ZMQ_PAIR, "inproc://ss-control", 1, err, errlen)) &&
             (io->control_m = new_socket(ctx, ZMQ_PAIR, "inproc://ss-control", 0, err, errlen));
    if (!ok) {
        close_sockets(io);
        free(io);
        return NULL;
    }
    /* Output from here on goes to the notebook; the log keeps Jupyter's stderr. */
    fflush(stdout);
    fflush(stderr);
    int l = fcntl(2, F_DUPFD_CLOEXEC, 3);
    if (l >= 0) log_fd = l;
    setvbuf(stdout, NULL, _IOLBF, BUFSIZ); /* a pipe would be fully buffered: print lines as they come */
    if ((io->rd[0] = capture_fd(1, &io->saved[0])) < 0 || (io->rd[1] = capture_fd(2, &io->saved[1])) < 0) {
        snprintf(err, errlen, "cannot make the output pipes: %s", strerror(errno));
        kio_stop(io);
        return NULL;
    }
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    pthread_sigmask(SIG_BLOCK, &block, &old); /* the threads inherit the mask */
    int rc = pthread_create(&io->iopub_th, NULL, iopub_main, io);
    int started = rc == 0;
    if (rc == 0 && (rc = pthread_create(&io->hb_th, NULL, hb_main, io)) == 0) started++;
    if (rc == 0 && (rc = pthread_create(&io->control_th, NULL, control_main, io)) == 0) started++;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) { /* stop the threads that run; each closes its own sockets */
        if (started > 0) {
            zmq_send(io->iopub_m, "Q", 1, 0);
            pthread_join(io->iopub_th, NULL);
            io->pub = io->iopub_t = NULL;
        }
        if (started > 1) {
            zmq_send(io->hb_ctl_m, "TERMINATE", 9, 0);
            pthread_join(io->hb_th, NULL);
            io->hb = io->hb_ctl_t = NULL;
        }
        snprintf(err, errlen, "cannot start a thread: %s", strerror(rc));
        kio_stop(io);
        return NULL;
    }
    io->running = 1;
    return io;
}

void kio_stop(kio *io)
{
    fflush(stdout);
    fflush(stderr);
    if (io->running) {
        zmq_send(io->iopub_m, "Q", 1, 0);
        zmq_send(io->hb_ctl_m, "TERMINATE", 9, 0);
        zmq_send(io->control_m, "Q", 1, 0);
        pthread_join(io->iopub_th, NULL);
        pthread_join(io->hb_th, NULL);
        pthread_join(io->control_th, NULL);
        /* the threads closed their own sockets */
        io->pub = io->iopub_t = io->hb = io->hb_ctl_t = io->router = io->control_t = NULL;
    }
    close_sockets(io);
    for (int i = 0; i < 2; i++) {
        if (io->saved[i] >= 0) {
            dup2(io->saved[i], i + 1);
            close(io->saved[i]);
        }
        if (io->rd[i] >= 0) close(io->rd[i]);
    }
    cJSON_Delete(io->parent);
    free(io);
}

/* ------------------------------------------------------------------ the main thread's side */

void *kio_control(kio *io) { return io->control_m; }

int kio_reply_control(kio *io, const kw_msg *req, const char *msg_type, const cJSON *content)
{
    cJSON *h = kw_header(io->session, msg_type);
    int rc = zmq_send(io->control_m, "R", 1, ZMQ_SNDMORE) < 0 ? -1
             : kw_send(io->control_m, io->key, req->ids, req->nids, h, req->header, NULL, content);
    cJSON_Delete(h);
    return rc;
}

int kio_set_parent(kio *io, const cJSON *parent)
{
    char *json = cJSON_PrintUnformatted(parent);
    int rc = json && zmq_send(io->iopub_m, "P", 1, ZMQ_SNDMORE) >= 0 && zmq_send(io->iopub_m, json, strlen(json), 0) >= 0
             ? 0 : -1;
    free(json);
    /* Wait until the iopub thread holds the new parent: it may see the pipes' next bytes
     * before the message (libzmq looks at a socket's queue only every ~1 ms), and output
     * published under the previous parent is dropped by clients as another cell's. */
    return rc == 0 ? kio_barrier(io) : rc;
}

int kio_publish(kio *io, const char *msg_type, const cJSON *parent, const cJSON *content)
{
    fflush(stdout); /* what was printed before this message comes before it */
    fflush(stderr);
    cJSON *h = kw_header(io->session, msg_type);
    kw_frame pre[2] = {{"M", 1}, {msg_type, strlen(msg_type)}};
    int rc = kw_send(io->iopub_m, io->key, pre, 2, h, parent, NULL, content);
    cJSON_Delete(h);
    return rc;
}

int kio_barrier(kio *io)
{
    char b;
    fflush(stdout);
    fflush(stderr);
    if (zmq_send(io->iopub_m, "B", 1, 0) < 0) return -1;
    while (zmq_recv(io->iopub_m, &b, 1, 0) < 0)
        if (errno != EINTR) return -1;
    return 0;
}

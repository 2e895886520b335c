/* kernel_wire.c — signing, parsing and sending Jupyter messages; see kernel_wire.h. */
#define _GNU_SOURCE
#include "kernel_wire.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include <sodium.h>
#include <zmq.h>

#define DELIM "<IDS|MSG>"
#define MAX_FRAMES 64 /* identities + delimiter + signature + 4 JSON frames + buffers */

/* Hex HMAC-SHA256 of the four frames into hex (65 bytes). */
static void sign(char hex[65], const kw_key *key, const void *const *data, const size_t *len)
{
    crypto_auth_hmacsha256_state st;
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_init(&st, key->bytes, key->len); /* any key length, as HMAC allows */
    for (int i = 0; i < 4; i++)
        crypto_auth_hmacsha256_update(&st, (const unsigned char *)data[i], len[i]);
    crypto_auth_hmacsha256_final(&st, mac);
    sodium_bin2hex(hex, 65, mac, sizeof mac);
}

/* ------------------------------------------------------------------ receiving */

void kw_msg_free(kw_msg *m)
{
    for (int i = 0; i < m->nids; i++)
        free((void *)m->ids[i].data);
    free(m->ids);
    cJSON_Delete(m->header);
    cJSON_Delete(m->parent);
    cJSON_Delete(m->metadata);
    cJSON_Delete(m->content);
    memset(m, 0, sizeof *m);
}

/* Parses the frames f[0..n) into m; KW_BAD with err on failure. */
static int parse(kw_msg *m, zmq_msg_t *f, int n, const kw_key *key, char *err, size_t errlen)
{
    int d = 0;
    while (d < n && !(zmq_msg_size(&f[d]) == sizeof DELIM - 1 && memcmp(zmq_msg_data(&f[d]), DELIM, sizeof DELIM - 1) == 0))
        d++;
    if (d + 6 > n) {
        snprintf(err, errlen, "malformed message: %d frames, %s", n, d == n ? "no <IDS|MSG> delimiter" : "fewer than 4 JSON frames");
        return KW_BAD;
    }
    const void *data[4];
    size_t len[4];
    for (int i = 0; i < 4; i++)
        data[i] = zmq_msg_data(&f[d + 2 + i]), len[i] = zmq_msg_size(&f[d + 2 + i]);
    if (key->len > 0) {
        char want[65];
        sign(want, key, data, len);
        if (zmq_msg_size(&f[d + 1]) != 64 || sodium_memcmp(want, zmq_msg_data(&f[d + 1]), 64) != 0) {
            snprintf(err, errlen, "message with a bad signature dropped");
            return KW_BAD;
        }
    }
    cJSON **slots[4] = {&m->header, &m->parent, &m->metadata, &m->content};
    for (int i = 0; i < 4; i++) {
        *slots[i] = cJSON_ParseWithLength((const char *)data[i], len[i]);
        if (!cJSON_IsObject(*slots[i])) {
            static const char *const names[4] = {"header", "parent_header", "metadata", "content"};
            snprintf(err, errlen, "malformed message: its %s is not a JSON object", names[i]);
            return KW_BAD;
        }
    }
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(m->header, "msg_type");
    if (!cJSON_IsString(type)) {
        snprintf(err, errlen, "malformed message: no msg_type in its header");
        return KW_BAD;
    }
    m->msg_type = type->valuestring;
    m->ids = calloc((size_t)(d > 0 ? d : 1), sizeof *m->ids);
    if (!m->ids) {
        snprintf(err, errlen, "out of memory");
        return KW_BAD;
    }
    for (; m->nids < d; m->nids++) {
        size_t l = zmq_msg_size(&f[m->nids]);
        void *copy = malloc(l > 0 ? l : 1);
        if (!copy) {
            snprintf(err, errlen, "out of memory");
            return KW_BAD;
        }
        memcpy(copy, zmq_msg_data(&f[m->nids]), l);
        m->ids[m->nids].data = copy;
        m->ids[m->nids].len = l;
    }
    return KW_OK;
}

int kw_recv(void *sock, const kw_key *key, kw_msg *m, char *err, size_t errlen)
{
    zmq_msg_t f[MAX_FRAMES];
    int n = 0, more = 1, rc;
    memset(m, 0, sizeof *m);
    while (more) {
        zmq_msg_t extra, *slot = n < MAX_FRAMES ? &f[n] : &extra;
        zmq_msg_init(slot);
        if (zmq_msg_recv(slot, sock, 0) < 0) {
            int e = errno;
            zmq_msg_close(slot);
            for (int i = 0; i < n; i++)
                zmq_msg_close(&f[i]);
            errno = e;
            return KW_ZMQ;
        }
        more = zmq_msg_more(slot);
        if (slot == &extra)
            zmq_msg_close(&extra); /* buffers past MAX_FRAMES: no handler reads them */
        else
            n++;
    }
    rc = parse(m, f, n, key, err, errlen);
    for (int i = 0; i < n; i++)
        zmq_msg_close(&f[i]);
    if (rc != KW_OK)
        kw_msg_free(m);
    return rc;
}

/* ------------------------------------------------------------------ sending */

void kw_uuid(char buf[37])
{
    unsigned char b[16];
    randombytes_buf(b, sizeof b);
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    snprintf(buf, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3],
             b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

cJSON *kw_header(const char *session, const char *msg_type)
{
    char id[37], date[40];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t k = strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(date + k, sizeof date - k, ".%06ldZ", ts.tv_nsec / 1000);
    kw_uuid(id);
    cJSON *h = cJSON_CreateObject();
    cJSON_AddStringToObject(h, "msg_id", id);
    cJSON_AddStringToObject(h, "session", session);
    cJSON_AddStringToObject(h, "username", "kernel");
    cJSON_AddStringToObject(h, "date", date);
    cJSON_AddStringToObject(h, "msg_type", msg_type);
    cJSON_AddStringToObject(h, "version", "5.3");
    return h;
}

int kw_send(void *sock, const kw_key *key, const kw_frame *prefix, int nprefix, const cJSON *header,
            const cJSON *parent, const cJSON *metadata, const cJSON *content)
{
    char *json[4] = {cJSON_PrintUnformatted(header), parent ? cJSON_PrintUnformatted(parent) : strdup("{}"),
                     metadata ? cJSON_PrintUnformatted(metadata) : strdup("{}"), cJSON_PrintUnformatted(content)};
    int rc = 0;
    for (int i = 0; i < 4; i++)
        if (!json[i]) rc = -1, errno = ENOMEM;
    if (rc == 0) {
        const void *data[4];
        size_t len[4];
        char sig[65] = "";
        for (int i = 0; i < 4; i++)
            data[i] = json[i], len[i] = strlen(json[i]);
        if (key->len > 0)
            sign(sig, key, data, len);
        for (int i = 0; rc == 0 && i < nprefix; i++)
            if (zmq_send(sock, prefix[i].data, prefix[i].len, ZMQ_SNDMORE) < 0) rc = -1;
        if (rc == 0 && zmq_send(sock, DELIM, sizeof DELIM - 1, ZMQ_SNDMORE) < 0) rc = -1;
        if (rc == 0 && zmq_send(sock, sig, strlen(sig), ZMQ_SNDMORE) < 0) rc = -1;
        for (int i = 0; rc == 0 && i < 4; i++)
            if (zmq_send(sock, data[i], len[i], i < 3 ? ZMQ_SNDMORE : 0) < 0) rc = -1;
    }
    for (int i = 0; i < 4; i++)
        free(json[i]);
    return rc;
}

int kw_forward(void *from, void *to, void *first_msg)
{
    int more = 1;
    if (first_msg) {
        more = zmq_msg_more(first_msg);
        if (zmq_msg_send(first_msg, to, more ? ZMQ_SNDMORE : 0) < 0) return -1;
    }
    while (more) {
        zmq_msg_t f;
        zmq_msg_init(&f);
        if (zmq_msg_recv(&f, from, 0) < 0) {
            zmq_msg_close(&f);
            return -1;
        }
        more = zmq_msg_more(&f);
        if (zmq_msg_send(&f, to, more ? ZMQ_SNDMORE : 0) < 0) {
            zmq_msg_close(&f);
            return -1;
        }
    }
    return 0;
}

/* ------------------------------------------------------------------ UTF-8 */

/* The length of the valid UTF-8 character at s[0..n): 1..4, 0 when invalid, -1 when cut off. */
static int char_len(const unsigned char *s, size_t n)
{
    int len;
    unsigned min;
    unsigned c = s[0];
    if (c < 0x80) return 1;
    if (c >= 0xc2 && c <= 0xdf) len = 2, min = 0x80;
    else if (c >= 0xe0 && c <= 0xef) len = 3, min = 0x800;
    else if (c >= 0xf0 && c <= 0xf4) len = 4, min = 0x10000;
    else return 0;
    unsigned cp = c & (0x3f >> (len - 1));
    for (int i = 1; i < len; i++) {
        if ((size_t)i >= n) return -1;
        if ((s[i] & 0xc0) != 0x80) return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
    return len;
}

size_t kw_utf8_complete(const char *s, size_t n)
{
    /* only the last three bytes can start a cut character */
    for (size_t k = n > 3 ? n - 3 : 0; k < n; k++) {
        unsigned char c = (unsigned char)s[k];
        if (c >= 0xc0 && char_len((const unsigned char *)s + k, n - k) < 0) return k;
    }
    return n;
}

cJSON *kw_string(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    char *clean = malloc(3 * n + 1); /* each bad byte becomes U+FFFD, 3 bytes */
    if (!clean) return cJSON_CreateString("");
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        int l = char_len(u + i, n - i);
        if (l > 0 && !(l == 1 && u[i] == 0)) {
            memcpy(clean + o, u + i, (size_t)l);
            o += (size_t)l, i += (size_t)l;
        } else { /* invalid, cut off, or NUL (cJSON strings end there) */
            memcpy(clean + o, "\xef\xbf\xbd", 3);
            o += 3, i++;
        }
    }
    clean[o] = '\0';
    cJSON *str = cJSON_CreateString(clean);
    free(clean);
    return str;
}

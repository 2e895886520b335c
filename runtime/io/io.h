/* io.h — helpers shared by the file readers and writers of runtime/io; not part of the API. */
#ifndef SS_IO_H
#define SS_IO_H

#include "core/internal.h"

#include <stddef.h>
#include <stdint.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "runtime/io reads little-endian data in place; add byte swapping for this host"
/* Atomic writes ("<path>.tmp.<pid>", fsync, rename; ss_file_write_atomic,
 * ss_safetensors_write): removes such temporary files whose process is gone (kill(pid, 0)
 * fails with ESRCH), what a writer killed mid-write left; best effort. */
void ss_io_remove_stale_temps(const char *path);
/* After a rename, the directory entry itself reaches the disk (best effort). */
void ss_io_sync_parent_dir(const char *path);
/* Ends an atomic write of path through tmp, open as fd (closed here): with rc == SS_OK,
 * fsync, close, rename over path and sync the directory; on any failure (rc or one of
 * those) tmp is removed and path untouched. Returns the final status. */
int ss_io_commit_temp(const char *op, const char *path, const char *tmp, int fd, int rc);

#endif

/* The most bytes one deflate stream can inflate to per compressed byte (a run of
 * 258-byte matches at two bits each gives 1032:1), rounded up: a header that promises
 * more data than its file could inflate to is truncated or lying. */
#define SS_DEFLATE_MAX_RATIO 1033

/* Element types of checkpoint tensors that load as float32. */
enum ss_io_dtype { SS_IO_F32 = 0, SS_IO_F16 = 1, SS_IO_BF16 = 2, SS_IO_F64 = 3 };

/* dst[0..n) = the n little-endian elements at src as float32: F32 bit for bit, F16
 * and BF16 exactly, F64 rounded to nearest. src needs no alignment. */
void ss_io_to_float(float *dst, const unsigned char *src, uint64_t n, int dtype);
/* Reverses the bytes of each of the n elements of `size` bytes at p (big-endian data). */
void ss_io_swap_bytes(unsigned char *p, uint64_t n, int size);

/* CRC-32C (Castagnoli, the iSCSI/ext4 polynomial 0x1EDC6F41, reflected): pass 0 for a
 * new checksum, or an earlier result to continue it over more data. ss_crc32c uses the
 * SSE4.2 instruction when the build targets it; the portable table version is always
 * there (the fallback, and the reference the tests compare against). */
uint32_t ss_crc32c(uint32_t crc, const void *data, size_t n);
uint32_t ss_crc32c_portable(uint32_t crc, const void *data, size_t n);

/* Reads n bytes at offset off; returns the count read (short only at the end of the
 * file) or -1 with errno set. */
int64_t ss_io_pread_full(int fd, void *buf, size_t n, uint64_t off);

/* Atomic writes ("<path>.tmp.<pid>", fsync, rename; ss_file_write_atomic,
 * ss_safetensors_write): removes such temporary files whose process is gone (kill(pid, 0)
 * fails with ESRCH), what a writer killed mid-write left; best effort. */
void ss_io_remove_stale_temps(const char *path);
/* After a rename, the directory entry itself reaches the disk (best effort). */
void ss_io_sync_parent_dir(const char *path);
/* Ends an atomic write of path through tmp, open as fd (closed here): with rc == SS_OK,
 * fsync, close, rename over path and sync the directory; on any failure (rc or one of
 * those) tmp is removed and path untouched. Returns the final status. */
int ss_io_commit_temp(const char *op, const char *path, const char *tmp, int fd, int rc);

#endif

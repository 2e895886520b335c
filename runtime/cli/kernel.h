/* kernel.h — `scalespace --kernel CONNECTION_FILE`: the executable as a Jupyter kernel. */
#ifndef SS_CLI_KERNEL_H
#define SS_CLI_KERNEL_H

/* Serves the connection file's sockets until a shutdown request. Returns the exit status:
 * 0, or 1 (with a message on stderr) when the kernel cannot start. */
int kernel_main(const char *argv0, const char *connection_file);

#endif

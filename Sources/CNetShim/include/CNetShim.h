#ifndef SWITCHYARD_CNETSHIM_H
#define SWITCHYARD_CNETSHIM_H
#include <sys/types.h>
#include <sys/socket.h>

/// Same layout as glibc's struct mmsghdr, which Swift's Glibc module does not expose.
struct sy_mmsghdr {
    struct msghdr msg_hdr;
    unsigned int msg_len;
};

/// recvmmsg(2); returns -1 and sets errno on failure.
int sy_recvmmsg(int fd, struct sy_mmsghdr *vec, unsigned int vlen, int flags);
/// sendmmsg(2); returns -1 and sets errno on failure.
int sy_sendmmsg(int fd, struct sy_mmsghdr *vec, unsigned int vlen, int flags);
/// MSG_WAITFORONE, for recvmmsg.
int sy_msg_waitforone(void);


#include <stdint.h>
#include <sys/epoll.h>
/// epoll_event is packed on x86_64, which Swift cannot import faithfully: these
/// wrappers take and return plain values.
int sy_epoll_create(void);
int sy_epoll_ctl(int epfd, int op, int fd, uint32_t events);
/// Fills fds[i] and events[i]; returns the count, or -1 with errno set.
int sy_epoll_wait(int epfd, int *fds, uint32_t *events, int max, int timeout_ms);
/// accept4 with SOCK_NONBLOCK | SOCK_CLOEXEC.
int sy_accept_nonblocking(int fd);
/// CPUs this process may run on (sched_getaffinity needs _GNU_SOURCE).
int sy_usable_cpus(void);
/// Routes SIGTERM, SIGINT and SIGHUP into a pipe (self-pipe trick): whichever thread the
/// kernel picks runs a handler that only writes the signal number. Returns the read end,
/// or -1 with errno set.
int sy_signal_pipe(void);
/// malloc_trim(0): hands freed heap pages back to the system.
int sy_malloc_trim(void);
/// Blocks of 1 MiB and more are mapped on their own and unmapped when freed (mallopt).
int sy_malloc_map_large(void);
#endif

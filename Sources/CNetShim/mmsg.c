#define _GNU_SOURCE
#include <sys/socket.h>
#include <stddef.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "CNetShim.h"

_Static_assert(sizeof(struct sy_mmsghdr) == sizeof(struct mmsghdr), "mmsghdr layout");
_Static_assert(offsetof(struct sy_mmsghdr, msg_len) == offsetof(struct mmsghdr, msg_len), "mmsghdr layout");

// Straight to the kernel: glibc's wrappers are thread-cancellation points, and in a
// process with more than one thread each call switches asynchronous cancellation on and
// off around the system call. Nothing here uses pthread_cancel, and on the UDP answer
// path those two atomic switches per batch are measurable.
int sy_recvmmsg(int fd, struct sy_mmsghdr *vec, unsigned int vlen, int flags) {
    return (int)syscall(SYS_recvmmsg, fd, vec, vlen, flags, NULL);
}

int sy_sendmmsg(int fd, struct sy_mmsghdr *vec, unsigned int vlen, int flags) {
    return (int)syscall(SYS_sendmmsg, fd, vec, vlen, flags);
}

int sy_msg_waitforone(void) { return MSG_WAITFORONE; }

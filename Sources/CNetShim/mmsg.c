#define _GNU_SOURCE
#include <sys/socket.h>
#include <stddef.h>
#include "CNetShim.h"

_Static_assert(sizeof(struct sy_mmsghdr) == sizeof(struct mmsghdr), "mmsghdr layout");
_Static_assert(offsetof(struct sy_mmsghdr, msg_len) == offsetof(struct mmsghdr, msg_len), "mmsghdr layout");

int sy_recvmmsg(int fd, struct sy_mmsghdr *vec, unsigned int vlen, int flags) {
    return recvmmsg(fd, (struct mmsghdr *)vec, vlen, flags, NULL);
}

int sy_sendmmsg(int fd, struct sy_mmsghdr *vec, unsigned int vlen, int flags) {
    return sendmmsg(fd, (struct mmsghdr *)vec, vlen, flags);
}

int sy_msg_waitforone(void) { return MSG_WAITFORONE; }

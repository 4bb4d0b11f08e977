#define _GNU_SOURCE
#include <stddef.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include "CNetShim.h"

int sy_epoll_create(void) { return epoll_create1(EPOLL_CLOEXEC); }

int sy_epoll_ctl(int epfd, int op, int fd, uint32_t events) {
    struct epoll_event event = { .events = events, .data = { .fd = fd } };
    return epoll_ctl(epfd, op, fd, &event);
}

int sy_epoll_wait(int epfd, int *fds, uint32_t *events, int max, int timeout_ms) {
    struct epoll_event list[128];
    if (max > 128) max = 128;
    int count = epoll_wait(epfd, list, max, timeout_ms);
    for (int i = 0; i < count; i++) {
        fds[i] = list[i].data.fd;
        events[i] = list[i].events;
    }
    return count;
}

int sy_accept_nonblocking(int fd) { return accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC); }

#include <sched.h>
int sy_usable_cpus(void) {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) != 0) return 1;
    int count = CPU_COUNT(&set);
    return count > 0 ? count : 1;
}

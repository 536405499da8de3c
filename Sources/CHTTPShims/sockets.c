#define _GNU_SOURCE
#include "CHTTPShims.h"
#include <poll.h>
#include <errno.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

int ds_accept_nonblocking(int fd) { return accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC); }

int ds_peer_closed(int fd) {
    struct pollfd entry = {.fd = fd, .events = POLLRDHUP};
    if (poll(&entry, 1, 0) <= 0) return 0;
    return (entry.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
}

// epoll_event is a packed struct on x86-64, which Swift can't import faithfully: these keep it on the C side.

int ds_epoll_create(void) { return epoll_create1(EPOLL_CLOEXEC); }

static uint32_t epoll_bits(uint32_t interest) {
    return ((interest & DS_EPOLL_READ) ? (EPOLLIN | EPOLLRDHUP) : 0) | ((interest & DS_EPOLL_WRITE) ? EPOLLOUT : 0);
}

int ds_epoll_set(int epfd, int fd, int op, uint32_t interest, uint64_t id) {
    struct epoll_event event = {.events = epoll_bits(interest), .data.u64 = id};
    return epoll_ctl(epfd, op == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, fd, &event);
}

int ds_epoll_remove(int epfd, int fd) {
    struct epoll_event unused = {0};
    return epoll_ctl(epfd, EPOLL_CTL_DEL, fd, &unused);
}

int ds_epoll_wait(int epfd, uint64_t *ids, uint32_t *ready, int max, int timeout_ms) {
    struct epoll_event events[256];
    if (max > 256) max = 256;
    int n = epoll_wait(epfd, events, max, timeout_ms);
    if (n < 0) return errno == EINTR ? 0 : -1;
    for (int i = 0; i < n; i++) {
        uint32_t bits = events[i].events;
        uint32_t broken = bits & (EPOLLERR | EPOLLHUP);
        ids[i] = events[i].data.u64;
        ready[i] = ((bits & (EPOLLIN | EPOLLRDHUP)) || broken ? DS_EPOLL_READ : 0)
                 | ((bits & EPOLLOUT) || broken ? DS_EPOLL_WRITE : 0);
    }
    return n;
}

int ds_eventfd(void) { return eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC); }

void ds_eventfd_signal(int fd) {
    uint64_t one = 1;
    while (write(fd, &one, sizeof one) < 0 && errno == EINTR) {}
}

void ds_eventfd_drain(int fd) {
    uint64_t value;
    while (read(fd, &value, sizeof value) < 0 && errno == EINTR) {}
}

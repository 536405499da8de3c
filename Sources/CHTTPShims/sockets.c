#define _GNU_SOURCE
#include "CHTTPShims.h"
#include <poll.h>
#include <sys/socket.h>

int ds_accept_nonblocking(int fd) { return accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC); }

int ds_peer_closed(int fd) {
    struct pollfd entry = {.fd = fd, .events = POLLRDHUP};
    if (poll(&entry, 1, 0) <= 0) return 0;
    return (entry.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
}

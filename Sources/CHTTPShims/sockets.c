#define _GNU_SOURCE
#include "CHTTPShims.h"
#include <sys/socket.h>

int ds_accept_nonblocking(int fd) { return accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC); }

/* The bench's TCP sink (tests/bench/network.sh): listens on 0.0.0.0:<port> (default 9000)
 * inside a container, and for each connection in turn reads into a 256 KiB buffer until
 * EOF, then closes it. Prints nothing: the sender times the transfer. Built at bench time
 * with gcc -O2 -static, so it runs in a busybox container. */
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

static char buf[256 * 1024];

int main(int argc, char **argv) {
    int port = argc > 1 ? atoi(argv[1]) : 9000;
    int one = 1;
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    if (ls < 0) return 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(ls, (struct sockaddr *)&a, sizeof a) < 0 || listen(ls, 16) < 0) return 1;
    for (;;) {
        int c = accept(ls, NULL, NULL);
        if (c < 0) continue;
        while (read(c, buf, sizeof buf) > 0) {
        }
        close(c);
    }
}

/* The bench's TCP sender (tests/bench/network.sh): connects to <ip>:<port>, writes <MB>
 * MiB from a 256 KiB buffer as fast as it can, shuts its side down and waits for the sink
 * to close, so every byte has arrived when the clock stops. Prints MB/s (MiB/s). */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static char buf[256 * 1024];

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: sender <ipv4> <port> <MiB>\n");
        return 2;
    }
    long long total = atoll(argv[3]) * 1024 * 1024, sent = 0;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[2]))};
    if (inet_pton(AF_INET, argv[1], &a.sin_addr) != 1) return 2;
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (connect(s, (struct sockaddr *)&a, sizeof a) < 0) {
        perror("sender: connect");
        return 1;
    }
    while (sent < total) {
        long long want = total - sent < (long long)sizeof buf ? total - sent : (long long)sizeof buf;
        ssize_t n = write(s, buf, want);
        if (n <= 0) {
            perror("sender: write");
            return 1;
        }
        sent += n;
    }
    shutdown(s, SHUT_WR);
    while (read(s, buf, sizeof buf) > 0) {
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("%.0f\n", sent / 1048576.0 / secs);
    return 0;
}

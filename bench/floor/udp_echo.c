/*
 * udp_echo: the floor for a UDP DNS server on this machine. It answers every query with
 * the query itself, flagged as a response (QR, AA, NOERROR), using the same socket setup
 * and the same recvmmsg/sendmmsg loop as switchyard's UDP worker, and does no DNS work
 * at all. Its CPU per query is what the kernel charges any server for one query on
 * loopback; bench/floor.py sets it beside Knot and switchyard.
 *
 *   udp_echo PORT        listens on 127.0.0.1:PORT until killed
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

enum { BATCH = 32, RECEIVE_SIZE = 4096, SEND_SIZE = 4096 };

static int listen_udp(int port) {
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    int buffer = 4 << 20, probe = IP_PMTUDISC_PROBE;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buffer, sizeof buffer);
    setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &probe, sizeof probe);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
    inet_pton(AF_INET, "127.0.0.1", &address.sin_addr);
    if (fd < 0 || bind(fd, (struct sockaddr *)&address, sizeof address) != 0) {
        perror("udp_echo: bind");
        exit(1);
    }
    return fd;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: udp_echo PORT\n");
        return 2;
    }
    int fd = listen_udp(atoi(argv[1]));
    static unsigned char received[BATCH][RECEIVE_SIZE], replies[BATCH][SEND_SIZE];
    struct mmsghdr in[BATCH], out[BATCH];
    struct iovec inVectors[BATCH], outVectors[BATCH];
    struct sockaddr_storage peers[BATCH];
    for (;;) {
        for (int i = 0; i < BATCH; i++) {
            inVectors[i] = (struct iovec){received[i], RECEIVE_SIZE};
            in[i].msg_hdr = (struct msghdr){.msg_name = &peers[i], .msg_namelen = sizeof peers[i],
                                            .msg_iov = &inVectors[i], .msg_iovlen = 1};
        }
        int count = recvmmsg(fd, in, BATCH, MSG_WAITFORONE, NULL);
        int ready = 0;
        for (int i = 0; i < count; i++) {
            unsigned length = in[i].msg_len;
            if (length < 12 || (received[i][2] & 0x80)) continue;
            memcpy(replies[ready], received[i], length);
            replies[ready][2] |= 0x84;
            replies[ready][3] = 0;
            outVectors[ready] = (struct iovec){replies[ready], length};
            out[ready].msg_hdr = (struct msghdr){.msg_name = &peers[i], .msg_namelen = in[i].msg_hdr.msg_namelen,
                                                 .msg_iov = &outVectors[ready], .msg_iovlen = 1};
            ready++;
        }
        for (int sent = 0; sent < ready;) {
            int result = sendmmsg(fd, out + sent, ready - sent, 0);
            sent += result > 0 ? result : 1;
        }
    }
}

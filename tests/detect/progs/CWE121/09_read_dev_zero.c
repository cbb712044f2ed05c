/* CWE-121: read() from /dev/zero into a 32-byte local buffer with a count of
 * 64 (BAD). */
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#if defined(BAD) == defined(GOOD)
#error "build with exactly one of -DBAD or -DGOOD"
#endif

int main(void)
{
    char buf[32];
    int fd = open("/dev/zero", O_RDONLY);
    if (fd < 0)
        return 1;
#ifdef BAD
    size_t count = 64;
#else
    size_t count = sizeof(buf);
#endif
    ssize_t got = read(fd, buf, count);
    close(fd);
    printf("%zd %d\n", got, buf[0]);
    return 0;
}

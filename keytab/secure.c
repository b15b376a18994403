/* secure.c - secure_wipe and secure_read_file (see secure.h). */
#define _DEFAULT_SOURCE /* explicit_bzero */
#include "keytab/secure.h"

#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static secure_wipe_observer_fn wipe_observer;
static void *wipe_observer_user;

void secure_wipe_set_observer(secure_wipe_observer_fn fn, void *user)
{
    wipe_observer = fn;
    wipe_observer_user = user;
}

void secure_wipe(void *p, size_t n)
{
    if (!p || !n)
        return;
    if (wipe_observer)
        wipe_observer(p, n, 0, wipe_observer_user);
    explicit_bzero(p, n);
    if (wipe_observer)
        wipe_observer(p, n, 1, wipe_observer_user);
}

uint8_t *secure_read_file(const char *path, size_t max, size_t *len, char **why)
{
    *len = 0;
    struct stat st;
    if (stat(path, &st) != 0) {
        *why = g_strdup(g_strerror(errno));
        return NULL;
    }
    if (!S_ISREG(st.st_mode)) {
        *why = g_strdup("not a regular file");
        return NULL;
    }
    /* O_NONBLOCK: if the file was swapped for a FIFO since stat, open and read do not block */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        *why = g_strdup(g_strerror(errno));
        return NULL;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        *why = g_strdup("not a regular file");
        return NULL;
    }
    if ((uint64_t)st.st_size > (uint64_t)max) {
        close(fd);
        *why = g_strdup_printf("larger than %zu bytes", max);
        return NULL;
    }
    size_t cap = (size_t)st.st_size;
    uint8_t *buf = g_malloc(cap + 1);
    size_t got = 0;
    while (got < cap) {
        ssize_t n = read(fd, buf + got, cap - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            *why = g_strdup(g_strerror(errno));
            close(fd);
            secure_free_file(buf, cap);
            return NULL;
        }
        if (n == 0)
            break; /* shrank while we read: take what is there */
        got += (size_t)n;
    }
    close(fd);
    buf[got] = 0;
    *len = got;
    return buf;
}

void secure_free_file(uint8_t *buf, size_t len)
{
    if (!buf)
        return;
    secure_wipe(buf, len + 1);
    g_free(buf);
}

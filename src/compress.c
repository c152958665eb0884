/* compress.c: gzip for text responses (libdeflate) and the precompressed static files */
#include "compress.h"

#include <dirent.h>
#include <libdeflate.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "util.h"

int compress_accepts_gzip(const char *ae)
{
    if (!ae)
        return 0;
    const char *p = ae;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        const char *name = p;
        while (*p && *p != ',' && *p != ';' && *p != ' ' && *p != '\t')
            p++;
        size_t n = (size_t)(p - name);
        int match = (n == 4 && !strncasecmp(name, "gzip", 4)) || (n == 1 && *name == '*');
        double q = 1.0;
        while (*p && *p != ',') { /* parameters: only q matters */
            if (*p == ';') {
                p++;
                while (*p == ' ' || *p == '\t')
                    p++;
                if ((*p == 'q' || *p == 'Q') && p[1] == '=')
                    q = strtod(p + 2, NULL);
            } else {
                p++;
            }
        }
        if (match && q > 0)
            return 1;
    }
    return 0;
}

int compress_type_ok(const char *ct)
{
    if (!ct)
        return 0;
    return !strncasecmp(ct, "text/", 5) || !strncasecmp(ct, "application/json", 16) ||
           !strncasecmp(ct, "image/svg+xml", 13) || !strncasecmp(ct, "application/javascript", 22);
}

/* ---- one compressor per thread ---- */

static pthread_key_t compressor_key;
static pthread_once_t compressor_once = PTHREAD_ONCE_INIT;

static void free_compressors(void *p)
{
    struct libdeflate_compressor **c = p;
    for (int i = 0; i <= 12; i++)
        if (c[i])
            libdeflate_free_compressor(c[i]);
    free(c);
}

static void make_key(void)
{
    pthread_key_create(&compressor_key, free_compressors);
}

static struct libdeflate_compressor *compressor(int level)
{
    pthread_once(&compressor_once, make_key);
    struct libdeflate_compressor **c = pthread_getspecific(compressor_key);
    if (!c) {
        c = xcalloc(13, sizeof *c);
        pthread_setspecific(compressor_key, c);
    }
    if (!c[level])
        c[level] = libdeflate_alloc_compressor(level);
    return c[level];
}

char *compress_gzip(const void *data, size_t len, int level, size_t *out_len)
{
    if (level < 1 || level > 12)
        level = 6;
    struct libdeflate_compressor *c = compressor(level);
    if (!c)
        return NULL;
    size_t bound = libdeflate_gzip_compress_bound(c, len);
    char *out = xmalloc(bound);
    size_t n = libdeflate_gzip_compress(c, data, len, out, bound);
    if (n == 0 || n >= len) {
        free(out);
        return NULL;
    }
    *out_len = n;
    return out;
}

/* ---- static files, compressed once ---- */

typedef struct static_gz {
    char *rel;
    uint64_t size;
    time_t mtime;
    char *gz;
    size_t gzlen;
} static_gz_t;

static static_gz_t *cache;
static size_t cache_n, cache_cap;

static const char *const COMPRESSIBLE_EXT[] = {".css", ".js", ".svg", ".txt", ".json", ".map", ".html", NULL};

static int compressible_name(const char *name)
{
    const char *dot = strrchr(name, '.');
    if (!dot)
        return 0;
    for (int i = 0; COMPRESSIBLE_EXT[i]; i++)
        if (!strcmp(dot, COMPRESSIBLE_EXT[i]))
            return 1;
    return 0;
}

static void cache_dir(const char *root, const char *rel, int depth)
{
    char *dir = rel ? fmtalloc("%s/%s", root, rel) : xstrdup(root);
    DIR *d = depth < 8 ? opendir(dir) : NULL;
    struct dirent *de;
    while (d && (de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        char *r = rel ? fmtalloc("%s/%s", rel, de->d_name) : xstrdup(de->d_name);
        char *full = fmtalloc("%s/%s", root, r);
        struct stat sb;
        if (stat(full, &sb) == 0 && S_ISDIR(sb.st_mode)) {
            cache_dir(root, r, depth + 1);
        } else if (stat(full, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size >= COMPRESS_MIN_BYTES &&
                   sb.st_size < 16 * 1024 * 1024 && compressible_name(de->d_name)) {
            size_t len = 0;
            char *data = util_read_file(full, &len);
            size_t gzlen = 0;
            char *gz = data ? compress_gzip(data, len, 12, &gzlen) : NULL;
            if (gz) {
                if (cache_n == cache_cap) {
                    cache_cap = cache_cap ? cache_cap * 2 : 16;
                    cache = xrealloc(cache, cache_cap * sizeof *cache);
                }
                cache[cache_n++] = (static_gz_t){xstrdup(r), (uint64_t)sb.st_size, sb.st_mtime, gz, gzlen};
            }
            free(data);
        }
        free(full);
        free(r);
    }
    if (d)
        closedir(d);
    free(dir);
}

int compress_static_init(const char *static_dir)
{
    compress_static_free();
    if (static_dir)
        cache_dir(static_dir, NULL, 0);
    return (int)cache_n;
}

const char *compress_static_find(const char *rel, uint64_t size, time_t mtime, size_t *len)
{
    for (size_t i = 0; i < cache_n; i++) {
        if (!strcmp(cache[i].rel, rel) && cache[i].size == size && cache[i].mtime == mtime) {
            *len = cache[i].gzlen;
            return cache[i].gz;
        }
    }
    return NULL;
}

void compress_static_free(void)
{
    for (size_t i = 0; i < cache_n; i++) {
        free(cache[i].rel);
        free(cache[i].gz);
    }
    free(cache);
    cache = NULL;
    cache_n = cache_cap = 0;
}

/* regress.c: runs a fuzz target over its seed corpus (every file of a folder), so that CI
 * replays the corpus under ASan+UBSan with any compiler. Real fuzzing uses libFuzzer:
 * configure with -DKPSIM_FUZZ=ON and CC=clang (see tests/fuzz/README.md). */
#include "kp/buf.h"

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
        return 2;
    }
    DIR *d = opendir(argv[1]);
    if (!d) {
        fprintf(stderr, "%s: cannot open the corpus\n", argv[1]);
        return 1;
    }
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        char *path = kp_asprintf("%s/%s", argv[1], de->d_name);
        kp_buf b;
        kp_buf_init(&b);
        if (!path || kp_read_file(path, &b) != 0) {
            fprintf(stderr, "%s: unreadable\n", path ? path : de->d_name);
            return 1;
        }
        LLVMFuzzerTestOneInput((const uint8_t *)(b.data ? b.data : ""), b.len);
        kp_buf_free(&b);
        free(path);
        n++;
    }
    closedir(d);
    printf("%d inputs replayed\n", n);
    return n > 0 ? 0 : 1; /* an empty corpus would test nothing */
}

/* fuzz_mpd.c: the MPD parser on arbitrary bytes: an MPD whose every representation lists its
 * segments (or fails with a message), or a located error with a Kaltura code. The first bytes
 * past a NUL, if any, are also tried as a sidx box for each SegmentBase representation. */
#include "mpd.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, 0, size);
    size_t xml_len = nul ? (size_t)(nul - data) : size;
    const uint8_t *tail = nul ? nul + 1 : NULL;
    size_t tail_len = nul ? size - xml_len - 1 : 0;
    kp_mpd *m = NULL;
    kp_mpd_error err;
    int rc =
        kp_mpd_parse((const char *)data, xml_len, "http://127.0.0.1:8080/p/a.mpd?x=1", &m, &err);
    if (rc == 0 && !m)
        abort();
    if (rc != 0) {
        if (m || err.msg[0] == '\0' || err.pcode < 3000)
            abort();
        return 0;
    }
    for (size_t p = 0; p < m->n_periods; p++) {
        const kp_mpd_period *per = &m->periods[p];
        for (size_t a = 0; a < per->n_sets; a++) {
            for (size_t r = 0; r < per->sets[a].n_reps; r++) {
                const kp_mpd_representation *rep = &per->sets[a].reps[r];
                kp_mpd_segments s;
                if (kp_mpd_segments_of(per, rep, &s, &err) != 0) {
                    if (err.msg[0] == '\0' || s.segs)
                        abort();
                    continue;
                }
                for (size_t i = 0; i < s.n; i++)
                    if (!s.segs[i].url)
                        abort();
                if (s.index.url && tail)
                    (void)kp_mpd_sidx_parse(tail, tail_len, per, rep, &s, &err);
                kp_mpd_segments_free(&s);
            }
        }
    }
    kp_mpd_free(m);
    return 0;
}

/* ffmpeg.c: the process-wide FFmpeg log level, and demuxing from memory. */
#include "kp/ffmpeg.h"

#include "kp/err.h"

#include <libavformat/avformat.h>
#include <libavutil/error.h>
#include <libavutil/log.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void kp_ffmpeg_set_log_level(kp_log_level level)
{
    av_log_set_level(level >= KP_LOG_TRACE   ? AV_LOG_VERBOSE
                     : level >= KP_LOG_DEBUG ? AV_LOG_WARNING
                                             : AV_LOG_QUIET);
}

typedef struct mem_input {
    const uint8_t *data;
    size_t len, pos;
} mem_input;

static int mem_read(void *opaque, uint8_t *buf, int size)
{
    mem_input *m = opaque;
    size_t left = m->len - m->pos;
    if (left == 0)
        return AVERROR_EOF;
    size_t n = (size_t)size < left ? (size_t)size : left;
    memcpy(buf, m->data + m->pos, n);
    m->pos += n;
    return (int)n;
}

static int64_t mem_seek(void *opaque, int64_t off, int whence)
{
    mem_input *m = opaque;
    if (whence & AVSEEK_SIZE)
        return (int64_t)m->len;
    whence &= ~AVSEEK_FORCE;
    int64_t base = whence == SEEK_CUR ? (int64_t)m->pos : whence == SEEK_END ? (int64_t)m->len : 0;
    int64_t to = base + off;
    if (to < 0 || to > (int64_t)m->len)
        return AVERROR(EINVAL);
    m->pos = (size_t)to;
    return to;
}

/* Frees the custom input of a context that was never opened, or whose open failed. */
static void free_io(AVIOContext **io)
{
    if (!*io)
        return;
    free((*io)->opaque);
    av_freep(&(*io)->buffer);
    avio_context_free(io);
}

int kp_ffmpeg_open_memory(const uint8_t *data, size_t len, const char *format, bool seekable,
                          AVFormatContext **out, char *err, size_t errlen)
{
    *out = NULL;
    if (err && errlen)
        err[0] = '\0';
    const AVInputFormat *ifmt = format ? av_find_input_format(format) : NULL;
    if ((format && !ifmt) || !data || len == 0) {
        if (err)
            snprintf(err, errlen, "%s", !data || !len ? "empty input" : "unknown container format");
        return KP_EMEDIA;
    }
    enum { IO_SIZE = 32768 };
    mem_input *m = calloc(1, sizeof(*m));
    uint8_t *buf = m ? av_malloc(IO_SIZE) : NULL;
    AVIOContext *io =
        buf ? avio_alloc_context(buf, IO_SIZE, 0, m, mem_read, NULL, seekable ? mem_seek : NULL)
            : NULL;
    AVFormatContext *fc = io ? avformat_alloc_context() : NULL;
    if (!fc) {
        if (io) {
            free_io(&io); /* with its buffer and m */
        } else {
            av_free(buf);
            free(m);
        }
        return KP_ENOMEM;
    }
    *m = (mem_input){.data = data, .len = len};
    io->seekable = seekable ? AVIO_SEEKABLE_NORMAL : 0;
    fc->pb = io;
    fc->flags |= AVFMT_FLAG_CUSTOM_IO;
    int rc = avformat_open_input(&fc, NULL, ifmt, NULL); /* frees fc on failure */
    if (rc < 0) {
        if (err)
            snprintf(err, errlen, "cannot open the %s input: %s", format ? format : "probed",
                     av_err2str(rc));
        free_io(&io);
        return KP_EMEDIA;
    }
    *out = fc;
    return KP_OK;
}

void kp_ffmpeg_close_memory(AVFormatContext **fc)
{
    if (!*fc)
        return;
    AVIOContext *io = (*fc)->pb;
    avformat_close_input(fc);
    free_io(&io);
}

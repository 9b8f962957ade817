/* ks.c: making and checking version-1 Kaltura sessions. */
#include "ks.h"

#include "kp/buf.h"
#include "kp/codec.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* SHA-1, fetched once: OpenSSL 3 looks an implicitly fetched digest up again at every init,
 * which cost more than the hashing itself. */
static EVP_MD *g_sha1;
static pthread_once_t g_sha1_once = PTHREAD_ONCE_INIT;

static void fetch_sha1(void)
{
    g_sha1 = EVP_MD_fetch(NULL, "SHA1", NULL);
}

static char *sha1_hex(const char *a, const char *b)
{
    pthread_once(&g_sha1_once, fetch_sha1);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_MD_CTX *ctx = g_sha1 ? EVP_MD_CTX_new() : NULL;
    if (!ctx)
        return NULL;
    int ok = EVP_DigestInit_ex(ctx, g_sha1, NULL) && EVP_DigestUpdate(ctx, a, strlen(a)) &&
             EVP_DigestUpdate(ctx, b, strlen(b)) && EVP_DigestFinal_ex(ctx, md, &len);
    EVP_MD_CTX_free(ctx);
    return ok ? kp_hex_encode(md, len) : NULL;
}

char *mbe_ks_make(long long partner_id, const char *secret, long long expiry, int type,
                  const char *rand, const char *user_id, const char *privileges)
{
    char *fields = kp_asprintf("%lld;%lld;%lld;%d;%s;%s;%s;;", partner_id, partner_id, expiry, type,
                               rand, user_id ? user_id : "", privileges ? privileges : "");
    char *sig = fields ? sha1_hex(secret, fields) : NULL;
    char *plain = sig ? kp_asprintf("%s|%s", sig, fields) : NULL;
    char *ks = plain ? kp_base64_encode(plain, strlen(plain)) : NULL;
    free(fields);
    free(sig);
    free(plain);
    return ks;
}

int mbe_ks_check(const char *ks, long long partner_id, const char *secret, long long now)
{
    if (!ks || !*ks)
        return MBE_KS_INVALID_STR;
    size_t cap = strlen(ks);
    unsigned char *raw = malloc(cap + 1);
    if (!raw)
        return MBE_KS_INVALID_STR;
    int n = kp_base64_decode(ks, raw, cap);
    int rc = MBE_KS_INVALID_STR;
    if (n > 41) {
        raw[n] = '\0';
        char *bar = strchr((char *)raw, '|');
        if (bar && bar - (char *)raw == 40) {
            *bar = '\0';
            const char *fields = bar + 1;
            char *sig = sha1_hex(secret, fields);
            long long pid = 0, expiry = 0;
            if (sig && strcmp(sig, (char *)raw) == 0 &&
                sscanf(fields, "%lld;%*[^;];%lld;", &pid, &expiry) == 2) {
                if (pid != partner_id)
                    rc = MBE_KS_INVALID_PARTNER;
                else if (expiry <= now) /* kSessionBase::isValidBase: valid_until <= time() */
                    rc = MBE_KS_EXPIRED;
                else
                    rc = MBE_KS_OK;
            }
            free(sig);
        }
    }
    free(raw);
    return rc;
}

const char *mbe_ks_error_desc(int code)
{
    switch (code) {
    case MBE_KS_INVALID_STR:
        return "INVALID_STR";
    case MBE_KS_INVALID_PARTNER:
        return "INVALID_PARTNER";
    case MBE_KS_EXPIRED:
        return "EXPIRED";
    default:
        return "OK";
    }
}

void mbe_ks_user(const char *ks, char *out, size_t cap)
{
    out[0] = '\0';
    size_t n = ks ? strlen(ks) : 0;
    unsigned char *raw = n ? malloc(n + 1) : NULL;
    int len = raw ? kp_base64_decode(ks, raw, n) : -1;
    if (len > 0) {
        raw[len] = '\0';
        /* sig|pid;pid;expiry;type;rand;user;... : the user is the sixth field */
        const char *f = strchr((char *)raw, '|');
        for (int i = 0; f && i < 5; i++)
            f = strchr(f + 1, ';');
        if (f) {
            size_t ulen = strcspn(f + 1, ";");
            if (ulen < cap) {
                memcpy(out, f + 1, ulen);
                out[ulen] = '\0';
            }
        }
    }
    free(raw);
}

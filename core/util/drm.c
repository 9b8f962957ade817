/* drm.c: key system and scheme tables, and the derived content keys (kp/drm.h). */
#include "kp/drm.h"

#include <openssl/evp.h>
#include <string.h>
#include <strings.h>

static const struct {
    const char *name, *key_system, *kaltura;
    uint8_t system_id[16];
} systems[KP_DRM_SYSTEM_COUNT] = {
    [KP_DRM_CLEARKEY] = {"clearkey",
                         "org.w3.clearkey",
                         "drm.CLEAR_KEY",
                         {0x10, 0x77, 0xef, 0xec, 0xc0, 0xb2, 0x4d, 0x02, 0xac, 0xe3, 0x3c, 0x1e,
                          0x52, 0xe2, 0xfb, 0x4b}},
    [KP_DRM_WIDEVINE] = {"widevine",
                         "com.widevine.alpha",
                         "drm.WIDEVINE_CENC",
                         {0xed, 0xef, 0x8b, 0xa9, 0x79, 0xd6, 0x4a, 0xce, 0xa3, 0xc8, 0x27, 0xdc,
                          0xd5, 0x1d, 0x21, 0xed}},
    [KP_DRM_PLAYREADY] = {"playready",
                          "com.microsoft.playready",
                          "drm.PLAYREADY_CENC",
                          {0x9a, 0x04, 0xf0, 0x79, 0x98, 0x40, 0x42, 0x86, 0xab, 0x92, 0xe6, 0x5b,
                           0xe0, 0x88, 0x5f, 0x95}},
    [KP_DRM_FAIRPLAY] = {"fairplay",
                         "com.apple.fairplay",
                         "fairplay.FAIRPLAY",
                         {0x94, 0xce, 0x86, 0xfb, 0x07, 0xff, 0x4f, 0x43, 0xad, 0xb8, 0x93, 0xd2,
                          0xfa, 0x96, 0x8c, 0xa2}},
};

static const char *const scheme_names[KP_ENC_SCHEME_COUNT] = {[KP_ENC_NONE] = "none",
                                                              [KP_ENC_CENC] = "cenc",
                                                              [KP_ENC_CBCS] = "cbcs",
                                                              [KP_ENC_AES128] = "aes-128"};

const char *kp_drm_system_name(kp_drm_system s)
{
    return (unsigned)s < KP_DRM_SYSTEM_COUNT ? systems[s].name : NULL;
}

const char *kp_drm_key_system(kp_drm_system s)
{
    return (unsigned)s < KP_DRM_SYSTEM_COUNT ? systems[s].key_system : NULL;
}

const char *kp_drm_kaltura_scheme(kp_drm_system s)
{
    return (unsigned)s < KP_DRM_SYSTEM_COUNT ? systems[s].kaltura : NULL;
}

const uint8_t *kp_drm_system_id(kp_drm_system s)
{
    return (unsigned)s < KP_DRM_SYSTEM_COUNT ? systems[s].system_id : NULL;
}

int kp_drm_system_from_id(const uint8_t id[16])
{
    for (int i = 0; id && i < KP_DRM_SYSTEM_COUNT; i++)
        if (memcmp(id, systems[i].system_id, 16) == 0)
            return i;
    return -1;
}

int kp_drm_system_parse(const char *s)
{
    for (int i = 0; s && i < KP_DRM_SYSTEM_COUNT; i++)
        if (strcasecmp(s, systems[i].name) == 0 || strcmp(s, systems[i].key_system) == 0 ||
            strcmp(s, systems[i].kaltura) == 0)
            return i;
    return -1;
}

const char *kp_enc_scheme_name(kp_enc_scheme s)
{
    return (unsigned)s < KP_ENC_SCHEME_COUNT ? scheme_names[s] : NULL;
}

int kp_enc_scheme_parse(const char *s)
{
    for (int i = 0; s && i < KP_ENC_SCHEME_COUNT; i++)
        if (strcasecmp(s, scheme_names[i]) == 0)
            return i;
    return -1;
}

static void derive(const char *label, const char *id, uint8_t out[16])
{
    uint8_t md[32];
    unsigned n = 0;
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    if (c && EVP_DigestInit_ex(c, EVP_sha256(), NULL) &&
        EVP_DigestUpdate(c, label, strlen(label)) && EVP_DigestUpdate(c, id, strlen(id)) &&
        EVP_DigestFinal_ex(c, md, &n) && n == sizeof(md))
        memcpy(out, md, 16);
    else
        memset(out, 0, 16); /* only when OpenSSL cannot allocate */
    EVP_MD_CTX_free(c);
}

void kp_drm_derive_key(const char *entry_id, uint8_t kid[16], uint8_t key[16])
{
    derive("kpsim-kid:", entry_id ? entry_id : "", kid);
    derive("kpsim-key:", entry_id ? entry_id : "", key);
}

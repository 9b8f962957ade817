/* ks.h: Kaltura sessions (KS), version 1 format:
 *   base64( sha1hex(secret + fields) + "|" + fields )
 *   fields = partnerId;partnerId;expiry;type;rand;userId;privileges;masterPartnerId;additionalData
 * as kaltura/server kSessionBase builds them. Strings returned are malloc'd, caller-owned.
 */
#ifndef MBE_KS_H
#define MBE_KS_H

#include <stddef.h>

/* kSessionBase error codes (ERR_CODE, ERR_DESC of INVALID_KS). */
enum { MBE_KS_OK = 0, MBE_KS_INVALID_STR = -1, MBE_KS_INVALID_PARTNER = -2, MBE_KS_EXPIRED = -5 };

char *mbe_ks_make(long long partner_id, const char *secret, long long expiry, int type,
                  const char *rand, const char *user_id, const char *privileges);
/* Checks signature, partner and expiry at `now`. Returns MBE_KS_OK or an error code. */
int mbe_ks_check(const char *ks, long long partner_id, const char *secret, long long now);
const char *mbe_ks_error_desc(int code);
/* Copies the user id field of a KS (unchecked) into out; "" when it has none or is not a KS. */
void mbe_ks_user(const char *ks, char *out, size_t cap);

#endif

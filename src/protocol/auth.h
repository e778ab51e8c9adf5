/* Authentication: scrambles and verifiers for mysql_native_password and
 * caching_sha2_password, and the RSA exchange of caching_sha2 full auth. */
#ifndef MX_AUTH_H
#define MX_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AUTH_NONCE_LEN 20
#define AUTH_NATIVE_LEN 20
#define AUTH_SHA2_LEN 32

/* Fills a 20-byte nonce with random printable bytes (no NUL, no '$'), as servers send. */
void auth_make_nonce(uint8_t nonce[AUTH_NONCE_LEN]);

/* ---- mysql_native_password ---- */
/* stage1 = SHA1(pw), stage2 = SHA1(stage1) */
void auth_native_stage2(const char *pw, size_t pwlen, uint8_t stage2[20]);
/* The client token: SHA1(pw) XOR SHA1(nonce + SHA1(SHA1(pw))). Empty password -> len 0. */
void auth_native_token(const char *pw, size_t pwlen, const uint8_t nonce[20], uint8_t out[20]);
/* Same from stage1 (SHA1(pw)) when only that is known. */
void auth_native_token_from_stage1(const uint8_t stage1[20], const uint8_t nonce[20],
                                   uint8_t out[20]);
/* Verifies a client token against stage2. On success returns true and, when
 * stage1_out != NULL, writes the recovered SHA1(pw) (lets mymux log in to a
 * native backend knowing only the hash). An empty token matches only an empty
 * password (stage2 of ""), which callers signal with empty_pw=true. */
bool auth_native_verify(const uint8_t stage2[20], bool empty_pw, const uint8_t nonce[20],
                        const uint8_t *token, size_t len, uint8_t stage1_out[20]);
/* Parses "*" + 40 hex digits into stage2; returns 0 or -1. */
int auth_native_parse_hash(const char *s, uint8_t stage2[20]);

/* ---- caching_sha2_password ---- */
/* Client token: SHA256(pw) XOR SHA256(SHA256(SHA256(pw)) + nonce). */
void auth_sha2_token(const char *pw, size_t pwlen, const uint8_t nonce[20], uint8_t out[32]);
void auth_sha2_token_from_stage1(const uint8_t stage1[32], const uint8_t nonce[20],
                                 uint8_t out[32]);
/* stage2 = SHA256(SHA256(pw)) */
void auth_sha2_stage2(const char *pw, size_t pwlen, uint8_t stage2[32]);
/* Verifies a fast-auth token against stage2; writes recovered SHA256(pw) to stage1_out. */
bool auth_sha2_verify(const uint8_t stage2[32], const uint8_t nonce[20], const uint8_t *token,
                      size_t len, uint8_t stage1_out[32]);
/* Checks a plaintext password against MySQL's stored caching_sha2 string
 * "$A$005$" + 20-byte salt + 43-char sha256-crypt digest (5000 rounds, i.e. "005"*1000).
 * Returns true on match. */
bool auth_sha2_crypt_check(const char *stored, const char *pw, size_t pwlen);
/* Builds such a string for pw with the given 20-byte salt (tests, and the
 * `mymux --hash-password` helper). out must hold 70 chars + NUL (outlen >= 71);
 * salt bytes may not be NUL or '$'. */
int auth_sha2_crypt_make(const char *pw, size_t pwlen, const uint8_t salt[20], char *out,
                         size_t outlen);
/* The SHA-256-crypt core under both: writes the 43-char encoded digest (no NUL)
 * for any salt length and round count; glibc's "$5$rounds=N$salt$" gives the
 * same digest for salts up to 16 bytes. Returns 0 or -1. */
int auth_sha256_crypt(const char *pw, size_t pwlen, const uint8_t *salt, size_t saltlen,
                      unsigned rounds, char out[43]);

/* ---- RSA exchange (caching_sha2 full auth without TLS) ---- */
/* Client side (mymux to a backend): encrypt (pw + '\0') XOR nonce (nonce repeated)
 * with the server's PEM public key, RSA_PKCS1_OAEP_PADDING. Writes at most outcap
 * bytes and returns the length, or -1. */
int auth_rsa_encrypt_password(const char *pem, size_t pemlen, const char *pw, size_t pwlen,
                              const uint8_t nonce[20], uint8_t *out, size_t outcap);

/* Server side (mymux to its clients): one process-wide RSA-2048 key pair made at
 * start. auth_rsa_init() generates it (returns 0/-1); auth_rsa_public_pem() returns
 * the PEM text ("-----BEGIN PUBLIC KEY-----...") and its length. */
int auth_rsa_init(void);
const char *auth_rsa_public_pem(size_t *len);
/* Decrypts a client's OAEP block and undoes the XOR with nonce; writes the
 * plaintext password (without the trailing NUL) to pw (capacity pwcap) and
 * returns its length, or -1. */
int auth_rsa_decrypt_password(const uint8_t *in, size_t inlen, const uint8_t nonce[20], char *pw,
                              size_t pwcap);
void auth_rsa_cleanup(void);

#endif

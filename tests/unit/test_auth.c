/* Unit tests for protocol/auth.c: scrambles, verifiers, sha256-crypt and the RSA exchange. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <crypt.h>
#include <openssl/encoder.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "protocol/auth.h"

/* A fixed nonce for the known vectors: "abcdefghijklmnopqrst". */
static const uint8_t test_nonce[20] = {'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j',
                                       'k', 'l', 'm', 'n', 'o', 'p', 'q', 'r', 's', 't'};

#define PW "apppass"
#define PWLEN (sizeof(PW) - 1)

/* Expected values derived independently with Python's hashlib:
 *   s1 = sha1(b"apppass"); s2 = sha1(s1)
 *   native = xor(s1, sha1(nonce + s2))
 *   t1 = sha256(b"apppass"); t2 = sha256(t1)
 *   sha2 = xor(t1, sha256(t2 + nonce))
 * with nonce = b"abcdefghijklmnopqrst". */
static const uint8_t native_apppass[20] = {0x0b, 0xe9, 0x88, 0x68, 0xb4, 0xe9, 0x03,
                                           0x2e, 0x3f, 0x6b, 0xb0, 0x96, 0xed, 0xe6,
                                           0x93, 0xe9, 0xd3, 0x01, 0x97, 0xf5};
static const uint8_t sha2_apppass[32] = {
    0x66, 0xab, 0x7c, 0x74, 0x91, 0x62, 0x31, 0xac, 0xb9, 0xa7, 0xd1, 0x25, 0x20, 0x42, 0x1d, 0xa2,
    0x84, 0xa6, 0xd2, 0x01, 0x88, 0xdd, 0x6a, 0x19, 0x67, 0x21, 0x6e, 0x9b, 0x00, 0x1c, 0x3f, 0xdb};
static const uint8_t sha2_stage2_apppass[32] = {
    0x64, 0xd5, 0x9b, 0xde, 0xf4, 0xc8, 0x3e, 0xb7, 0x2e, 0x37, 0xc9, 0x1e, 0xea, 0x01, 0xdf, 0xaa,
    0x9e, 0x82, 0xd0, 0x17, 0x6e, 0x68, 0x1e, 0x9c, 0x0d, 0xfe, 0xca, 0x19, 0xac, 0xf7, 0x55, 0x7f};

/* MariaDB's PASSWORD('apppass') is "*" + upper hex of sha1(sha1(pw)); derived with
 * /usr/bin/python3 -c "import hashlib;print(hashlib.sha1(hashlib.sha1(b'apppass')
 * .digest()).hexdigest().upper())". */
#define APPPASS_HASH "*90BE3C2682EBF3427EDA20315D6EAB9E31FD1023"

static void sha(const EVP_MD *md, const void *p, size_t n, uint8_t *out)
{
    assert_int_equal(EVP_Digest(p, n, out, NULL, md, NULL), 1);
}

/* ---- nonce ---- */

static void test_nonce_printable_no_dollar(void **state)
{
    uint8_t a[20], b[20];
    int seen[256] = {0};

    for (int round = 0; round < 500; round++) {
        auth_make_nonce(a);
        for (int i = 0; i < 20; i++) {
            assert_true(a[i] >= 0x21 && a[i] <= 0x7e);
            assert_int_not_equal(a[i], '$');
            seen[a[i]] = 1;
        }
    }
    /* 10,000 draws over 93 values: all should show up, including both ends. */
    assert_true(seen[0x21] && seen[0x23] && seen[0x25] && seen[0x7e]);
    auth_make_nonce(a);
    auth_make_nonce(b);
    assert_memory_not_equal(a, b, 20);
}

/* ---- mysql_native_password ---- */

static void test_native_stage2_matches_password_function(void **state)
{
    uint8_t stage2[20], parsed[20];
    char hex[42];

    auth_native_stage2(PW, PWLEN, stage2);
    hex[0] = '*';
    for (int i = 0; i < 20; i++)
        snprintf(hex + 1 + 2 * i, 3, "%02X", stage2[i]);
    assert_string_equal(hex, APPPASS_HASH);
    assert_int_equal(auth_native_parse_hash(APPPASS_HASH, parsed), 0);
    assert_memory_equal(parsed, stage2, 20);
}

static void test_native_token_known_vector(void **state)
{
    uint8_t out[20], stage1[20];

    auth_native_token(PW, PWLEN, test_nonce, out);
    assert_memory_equal(out, native_apppass, 20);

    sha(EVP_sha1(), PW, PWLEN, stage1);
    memset(out, 0, sizeof(out));
    auth_native_token_from_stage1(stage1, test_nonce, out);
    assert_memory_equal(out, native_apppass, 20);
}

static void test_native_verify(void **state)
{
    uint8_t stage2[20], stage1[20], want[20], tok[20], nonce[20];

    auth_native_stage2(PW, PWLEN, stage2);
    sha(EVP_sha1(), PW, PWLEN, want);

    assert_true(auth_native_verify(stage2, false, test_nonce, native_apppass, 20, stage1));
    assert_memory_equal(stage1, want, 20);
    assert_true(auth_native_verify(stage2, false, test_nonce, native_apppass, 20, NULL));

    /* A fresh nonce, the recovered stage1 logs in again (what mymux does to a backend). */
    auth_make_nonce(nonce);
    auth_native_token_from_stage1(stage1, nonce, tok);
    assert_true(auth_native_verify(stage2, false, nonce, tok, 20, NULL));

    /* Wrong password, wrong nonce, flipped bit, wrong length. */
    auth_native_token("apppasS", 7, test_nonce, tok);
    assert_false(auth_native_verify(stage2, false, test_nonce, tok, 20, NULL));
    assert_false(auth_native_verify(stage2, false, nonce, native_apppass, 20, NULL));
    memcpy(tok, native_apppass, 20);
    tok[19] ^= 1;
    assert_false(auth_native_verify(stage2, false, test_nonce, tok, 20, NULL));
    assert_false(auth_native_verify(stage2, false, test_nonce, native_apppass, 19, NULL));
    assert_false(auth_native_verify(stage2, false, test_nonce, native_apppass, 0, NULL));
}

static void test_native_empty_password(void **state)
{
    uint8_t stage2[20], out[20], stage1[20], zero = 0;

    /* The token of "" is empty: out is not written. */
    memset(out, 0xaa, sizeof(out));
    auth_native_token("", 0, test_nonce, out);
    for (int i = 0; i < 20; i++)
        assert_int_equal(out[i], 0xaa);

    auth_native_stage2("", 0, stage2);
    assert_true(auth_native_verify(stage2, true, test_nonce, NULL, 0, NULL));
    assert_true(auth_native_verify(stage2, true, test_nonce, native_apppass, 0, stage1));
    assert_false(auth_native_verify(stage2, true, test_nonce, &zero, 1, NULL));
    assert_false(auth_native_verify(stage2, true, test_nonce, native_apppass, 20, NULL));
    /* A non-empty account given an empty token. */
    auth_native_stage2(PW, PWLEN, stage2);
    assert_false(auth_native_verify(stage2, false, test_nonce, NULL, 0, NULL));
}

static void test_native_parse_hash(void **state)
{
    uint8_t upper[20], lower[20], untouched[20];

    assert_int_equal(auth_native_parse_hash(APPPASS_HASH, upper), 0);
    assert_int_equal(auth_native_parse_hash("*90be3c2682ebf3427eda20315d6eab9e31fd1023", lower), 0);
    assert_memory_equal(upper, lower, 20);
    assert_int_equal(upper[0], 0x90);
    assert_int_equal(upper[19], 0x23);
    assert_int_equal(auth_native_parse_hash("*90bE3C2682EBF3427EDA20315D6EAB9E31FD1023", lower), 0);
    assert_memory_equal(upper, lower, 20);

    memset(untouched, 0x55, sizeof(untouched));
    /* missing '*', one short, one long, non-hex, empty */
    assert_int_equal(auth_native_parse_hash("90BE3C2682EBF3427EDA20315D6EAB9E31FD1023", untouched),
                     -1);
    assert_int_equal(auth_native_parse_hash("90BE3C2682EBF3427EDA20315D6EAB9E31FD10233", untouched),
                     -1);
    assert_int_equal(auth_native_parse_hash("*90BE3C2682EBF3427EDA20315D6EAB9E31FD102", untouched),
                     -1);
    assert_int_equal(
        auth_native_parse_hash("*90BE3C2682EBF3427EDA20315D6EAB9E31FD10234", untouched), -1);
    assert_int_equal(auth_native_parse_hash("*90BE3C2682EBF3427EDA20315D6EAB9E31FD102G", untouched),
                     -1);
    assert_int_equal(auth_native_parse_hash("*90BE3C2682EBF3427EDA20315D6EAB9E31FD10 3", untouched),
                     -1);
    assert_int_equal(auth_native_parse_hash("", untouched), -1);
    assert_int_equal(auth_native_parse_hash("*", untouched), -1);
    for (int i = 0; i < 20; i++)
        assert_int_equal(untouched[i], 0x55);
}

/* ---- caching_sha2_password fast auth ---- */

static void test_sha2_token_known_vector(void **state)
{
    uint8_t out[32], stage1[32], stage2[32];

    auth_sha2_token(PW, PWLEN, test_nonce, out);
    assert_memory_equal(out, sha2_apppass, 32);

    sha(EVP_sha256(), PW, PWLEN, stage1);
    memset(out, 0, sizeof(out));
    auth_sha2_token_from_stage1(stage1, test_nonce, out);
    assert_memory_equal(out, sha2_apppass, 32);

    auth_sha2_stage2(PW, PWLEN, stage2);
    assert_memory_equal(stage2, sha2_stage2_apppass, 32);
}

static void test_sha2_verify(void **state)
{
    uint8_t stage2[32], stage1[32], want[32], tok[32], nonce[20];

    auth_sha2_stage2(PW, PWLEN, stage2);
    sha(EVP_sha256(), PW, PWLEN, want);

    assert_true(auth_sha2_verify(stage2, test_nonce, sha2_apppass, 32, stage1));
    assert_memory_equal(stage1, want, 32);

    auth_make_nonce(nonce);
    auth_sha2_token_from_stage1(stage1, nonce, tok);
    assert_true(auth_sha2_verify(stage2, nonce, tok, 32, NULL));

    auth_sha2_token("Apppass", 7, test_nonce, tok);
    assert_false(auth_sha2_verify(stage2, test_nonce, tok, 32, NULL));
    assert_false(auth_sha2_verify(stage2, nonce, sha2_apppass, 32, NULL));
    memcpy(tok, sha2_apppass, 32);
    tok[0] ^= 0x80;
    assert_false(auth_sha2_verify(stage2, test_nonce, tok, 32, NULL));
    assert_false(auth_sha2_verify(stage2, test_nonce, sha2_apppass, 31, NULL));
    /* A native-sized token is not a sha2 token. */
    assert_false(auth_sha2_verify(stage2, test_nonce, sha2_apppass, 20, NULL));
}

/* Clients send nothing, or (libmysqlclient) one NUL byte, for an empty password. */
static void test_sha2_empty_password(void **state)
{
    uint8_t stage2[32], stage1[32], want[32], zero = 0, one = 1;

    auth_sha2_stage2("", 0, stage2);
    sha(EVP_sha256(), "", 0, want);
    assert_true(auth_sha2_verify(stage2, test_nonce, NULL, 0, stage1));
    assert_memory_equal(stage1, want, 32);
    assert_true(auth_sha2_verify(stage2, test_nonce, &zero, 1, NULL));
    assert_false(auth_sha2_verify(stage2, test_nonce, &one, 1, NULL));
    assert_false(auth_sha2_verify(stage2, test_nonce, sha2_apppass, 32, NULL));

    auth_sha2_stage2(PW, PWLEN, stage2);
    assert_false(auth_sha2_verify(stage2, test_nonce, NULL, 0, NULL));
    assert_false(auth_sha2_verify(stage2, test_nonce, &zero, 1, NULL));
}

/* ---- sha256-crypt ---- */

/* glibc's crypt() is the reference: "$5$rounds=N$<16-char salt>$" gives the same
 * digest as our core for salts it does not truncate. libxcrypt refuses salt
 * characters outside "./0-9A-Za-z" ("*0"), though the algorithm (and MySQL,
 * whose salts are any 7-bit byte but NUL and '$') takes any byte. */
static void check_against_glibc(const char *pw, const char *salt16, unsigned rounds)
{
    struct crypt_data cd;
    char setting[64], digest[44];
    const char *ref, *dollar;

    memset(&cd, 0, sizeof(cd));
    snprintf(setting, sizeof(setting), "$5$rounds=%u$%s$", rounds, salt16);
    ref = crypt_r(pw, setting, &cd);
    assert_non_null(ref);
    dollar = strrchr(ref, '$');
    assert_non_null(dollar);
    assert_int_equal(strlen(dollar + 1), 43);

    assert_int_equal(
        auth_sha256_crypt(pw, strlen(pw), (const uint8_t *)salt16, strlen(salt16), rounds, digest),
        0);
    digest[43] = '\0';
    assert_string_equal(digest, dollar + 1);
}

static void test_sha256_crypt_matches_glibc(void **state)
{
    /* Password lengths around the 32-byte digest size exercise the repeat logic. */
    static const char *pws[] = {
        "",
        "a",
        PW,
        "Hello world!",
        "0123456789abcdef0123456789abcde",
        "0123456789abcdef0123456789abcdef",
        "0123456789abcdef0123456789abcdef0",
        "a much longer password that spans more than two sha256 blocks of 32 bytes each",
    };
    for (size_t i = 0; i < sizeof(pws) / sizeof(pws[0]); i++) {
        check_against_glibc(pws[i], "abcdefghijklmnop", 5000);
        check_against_glibc(pws[i], "./Zz09AzaZ.9/x8y", 5000);
    }
    check_against_glibc(PW, "abcdefghijklmnop", 1000);
    check_against_glibc(PW, "abcdefghijklmnop", 6000);
    check_against_glibc(PW, "short", 5000);
    check_against_glibc(PW, "", 5000);
}

/* From Drepper's SHA-crypt specification (confirmed with glibc crypt()):
 * crypt("Hello world!", "$5$rounds=10000$saltstringsaltstring") =
 * "$5$rounds=10000$saltstringsaltst$3xv.VbSHBb41AL9AvLeujZkZRBAwqFMz2.opqey6IcA" */
static void test_sha256_crypt_spec_vector(void **state)
{
    char digest[44];

    assert_int_equal(auth_sha256_crypt("Hello world!", 12, (const uint8_t *)"saltstringsaltst", 16,
                                       10000, digest),
                     0);
    digest[43] = '\0';
    assert_string_equal(digest, "3xv.VbSHBb41AL9AvLeujZkZRBAwqFMz2.opqey6IcA");
}

static const uint8_t test_salt20[20] = {'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j',
                                        'k', 'l', 'm', 'n', 'o', 'p', 'q', 'r', 's', 't'};

static void test_sha2_crypt_make_check(void **state)
{
    char stored[71], other[71], digest[44];

    assert_int_equal(auth_sha2_crypt_make(PW, PWLEN, test_salt20, stored, sizeof(stored)), 0);
    assert_int_equal(strlen(stored), 70);
    assert_memory_equal(stored, "$A$005$abcdefghijklmnopqrst", 27);

    /* The wrapper is the core over all 20 salt bytes at 5000 rounds. */
    assert_int_equal(auth_sha256_crypt(PW, PWLEN, test_salt20, 20, 5000, digest), 0);
    assert_memory_equal(stored + 27, digest, 43);

    assert_true(auth_sha2_crypt_check(stored, PW, PWLEN));
    assert_false(auth_sha2_crypt_check(stored, "apppas", 6));
    assert_false(auth_sha2_crypt_check(stored, "apppass ", 8));
    assert_false(auth_sha2_crypt_check(stored, "", 0));

    /* Salt bytes 17..20 count: glibc would have dropped them. */
    uint8_t salt2[20];
    memcpy(salt2, test_salt20, 20);
    salt2[19] = 'u';
    assert_int_equal(auth_sha2_crypt_make(PW, PWLEN, salt2, other, sizeof(other)), 0);
    assert_memory_not_equal(stored + 27, other + 27, 43);

    /* Empty password round trip. */
    assert_int_equal(auth_sha2_crypt_make("", 0, test_salt20, other, sizeof(other)), 0);
    assert_true(auth_sha2_crypt_check(other, "", 0));
    assert_false(auth_sha2_crypt_check(other, PW, PWLEN));
}

static void test_sha2_crypt_rejects_malformed(void **state)
{
    char stored[71], bad[80];
    uint8_t salt[20];

    assert_int_equal(auth_sha2_crypt_make(PW, PWLEN, test_salt20, stored, sizeof(stored)), 0);

    memcpy(bad, stored, sizeof(stored));
    bad[69] = bad[69] == 'A' ? 'B' : 'A';
    assert_false(auth_sha2_crypt_check(bad, PW, PWLEN));
    memcpy(bad, stored, sizeof(stored));
    bad[1] = 'B';
    assert_false(auth_sha2_crypt_check(bad, PW, PWLEN));
    memcpy(bad, stored, sizeof(stored));
    bad[6] = 'x';
    assert_false(auth_sha2_crypt_check(bad, PW, PWLEN));
    memcpy(bad, stored, sizeof(stored));
    memcpy(bad + 3, "000", 3);
    assert_false(auth_sha2_crypt_check(bad, PW, PWLEN));
    memcpy(bad, stored, sizeof(stored));
    memcpy(bad + 3, "0G5", 3);
    assert_false(auth_sha2_crypt_check(bad, PW, PWLEN));
    /* 6000 rounds is not 5000 rounds. */
    memcpy(bad, stored, sizeof(stored));
    memcpy(bad + 3, "006", 3);
    assert_false(auth_sha2_crypt_check(bad, PW, PWLEN));
    memcpy(bad, stored, sizeof(stored));
    bad[69] = '\0';
    assert_false(auth_sha2_crypt_check(bad, PW, PWLEN));
    snprintf(bad, sizeof(bad), "%sx", stored);
    assert_false(auth_sha2_crypt_check(bad, PW, PWLEN));
    assert_false(auth_sha2_crypt_check("", PW, PWLEN));
    assert_false(auth_sha2_crypt_check(APPPASS_HASH, PW, PWLEN));

    /* Passwords past MySQL's 256-byte limit are refused before hashing. */
    char longpw[300];
    memset(longpw, 'p', sizeof(longpw));
    assert_int_equal(auth_sha2_crypt_make(longpw, 256, test_salt20, bad, sizeof(bad)), 0);
    assert_true(auth_sha2_crypt_check(bad, longpw, 256));
    assert_int_equal(auth_sha2_crypt_make(longpw, 257, test_salt20, bad, sizeof(bad)), -1);
    assert_false(auth_sha2_crypt_check(stored, longpw, sizeof(longpw)));

    /* make: buffer too small, salt with '$' or NUL. */
    assert_int_equal(auth_sha2_crypt_make(PW, PWLEN, test_salt20, bad, 70), -1);
    memcpy(salt, test_salt20, 20);
    salt[5] = '$';
    assert_int_equal(auth_sha2_crypt_make(PW, PWLEN, salt, bad, sizeof(bad)), -1);
    salt[5] = '\0';
    assert_int_equal(auth_sha2_crypt_make(PW, PWLEN, salt, bad, sizeof(bad)), -1);
}

/* MySQL writes the round count as 3 uppercase hex digits (8.0.x "%03X"), so
 * "00A" is 10,000 rounds; build one by hand from the core. */
static void test_sha2_crypt_hex_rounds(void **state)
{
    char stored[71];

    memcpy(stored, "$A$00A$", 7);
    memcpy(stored + 7, test_salt20, 20);
    assert_int_equal(auth_sha256_crypt(PW, PWLEN, test_salt20, 20, 10000, stored + 27), 0);
    stored[70] = '\0';
    assert_true(auth_sha2_crypt_check(stored, PW, PWLEN));
    stored[5] = 'a';
    assert_true(auth_sha2_crypt_check(stored, PW, PWLEN));
    memcpy(stored + 3, "010", 3); /* 16,000 rounds */
    assert_false(auth_sha2_crypt_check(stored, PW, PWLEN));
}

/* ---- RSA exchange ---- */

static int rsa_setup(void **state)
{
    return auth_rsa_init();
}

static int rsa_teardown(void **state)
{
    auth_rsa_cleanup();
    return 0;
}

static void test_rsa_public_pem(void **state)
{
    size_t len = 0;
    const char *pem = auth_rsa_public_pem(&len);

    assert_non_null(pem);
    assert_int_equal(strlen(pem), len);
    assert_memory_equal(pem, "-----BEGIN PUBLIC KEY-----\n", 27);
    assert_non_null(strstr(pem, "-----END PUBLIC KEY-----"));
    /* Second init keeps the same key. */
    assert_int_equal(auth_rsa_init(), 0);
    assert_ptr_equal(auth_rsa_public_pem(NULL), pem);
}

static void rsa_roundtrip(const char *pw, size_t pwlen, const uint8_t nonce[20])
{
    size_t pemlen;
    const char *pem = auth_rsa_public_pem(&pemlen);
    uint8_t ct[512];
    char back[256];
    int n, m;

    n = auth_rsa_encrypt_password(pem, pemlen, pw, pwlen, nonce, ct, sizeof(ct));
    assert_int_equal(n, 256);
    m = auth_rsa_decrypt_password(ct, (size_t)n, nonce, back, sizeof(back));
    assert_int_equal(m, (int)pwlen);
    assert_memory_equal(back, pw, pwlen);
}

static void test_rsa_roundtrip(void **state)
{
    uint8_t nonce[20];
    char longpw[100];

    auth_make_nonce(nonce);
    rsa_roundtrip(PW, PWLEN, nonce);
    rsa_roundtrip("", 0, nonce);
    /* Longer than the nonce, so the XOR wraps around it. */
    for (size_t i = 0; i < sizeof(longpw); i++)
        longpw[i] = (char)('A' + i % 26);
    rsa_roundtrip(longpw, sizeof(longpw), nonce);
    rsa_roundtrip(PW, PWLEN, test_nonce);
}

/* Decrypting by hand shows what is on the wire: (pw + NUL) XOR the nonce, cyclically. */
static void test_rsa_wire_format(void **state)
{
    size_t pemlen;
    const char *pem = auth_rsa_public_pem(&pemlen);
    uint8_t ct[256], pt[256];
    char back[64];
    size_t ptlen = sizeof(pt);
    int n;

    n = auth_rsa_encrypt_password(pem, pemlen, PW, PWLEN, test_nonce, ct, sizeof(ct));
    assert_int_equal(n, 256);

    /* Wrong nonce: the trailing byte is not NUL after the XOR; refused. */
    uint8_t other[20];
    memcpy(other, test_nonce, 20);
    other[PWLEN] ^= 0x01;
    assert_int_equal(auth_rsa_decrypt_password(ct, 256, other, back, sizeof(back)), -1);
    /* Too small an output buffer. */
    assert_int_equal(auth_rsa_decrypt_password(ct, 256, test_nonce, back, PWLEN - 1), -1);
    assert_int_equal(auth_rsa_decrypt_password(ct, 256, test_nonce, back, PWLEN), (int)PWLEN);
    /* Garbled ciphertext fails OAEP. */
    ct[100] ^= 0x40;
    assert_int_equal(auth_rsa_decrypt_password(ct, 256, test_nonce, back, sizeof(back)), -1);
    assert_int_equal(auth_rsa_decrypt_password(ct, 10, test_nonce, back, sizeof(back)), -1);

    /* Encrypt with a key of our own, decrypt with plain EVP + OAEP, look at the bytes. */
    EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    assert_non_null(key);
    BIO *bio = BIO_new(BIO_s_mem());
    assert_int_equal(PEM_write_bio_PUBKEY(bio, key), 1);
    char *data;
    long dlen = BIO_get_mem_data(bio, &data);
    n = auth_rsa_encrypt_password(data, (size_t)dlen, PW, PWLEN, test_nonce, ct, sizeof(ct));
    assert_int_equal(n, 256);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(key, NULL);
    assert_int_equal(EVP_PKEY_decrypt_init(ctx), 1);
    assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING), 1);
    assert_int_equal(EVP_PKEY_decrypt(ctx, pt, &ptlen, ct, 256), 1);
    assert_int_equal(ptlen, PWLEN + 1);
    for (size_t i = 0; i < ptlen; i++)
        assert_int_equal(pt[i] ^ test_nonce[i % 20], i < PWLEN ? (uint8_t)PW[i] : 0);
    /* Our key cannot read it. */
    assert_int_equal(auth_rsa_decrypt_password(ct, 256, test_nonce, back, sizeof(back)), -1);

    /* The same public key as PKCS#1 ("BEGIN RSA PUBLIC KEY") is accepted too. */
    OSSL_ENCODER_CTX *ectx =
        OSSL_ENCODER_CTX_new_for_pkey(key, EVP_PKEY_PUBLIC_KEY, "PEM", "type-specific", NULL);
    unsigned char *pk1 = NULL;
    size_t pk1len = 0;
    assert_non_null(ectx);
    assert_int_equal(OSSL_ENCODER_to_data(ectx, &pk1, &pk1len), 1);
    assert_non_null(strstr((const char *)pk1, "BEGIN RSA PUBLIC KEY"));
    n = auth_rsa_encrypt_password((const char *)pk1, pk1len, PW, PWLEN, test_nonce, ct, sizeof(ct));
    assert_int_equal(n, 256);
    ptlen = sizeof(pt);
    assert_int_equal(EVP_PKEY_decrypt(ctx, pt, &ptlen, ct, 256), 1);
    assert_int_equal(ptlen, PWLEN + 1);

    OPENSSL_free(pk1);
    OSSL_ENCODER_CTX_free(ectx);
    EVP_PKEY_CTX_free(ctx);
    BIO_free(bio);
    EVP_PKEY_free(key);
}

static void test_rsa_encrypt_errors(void **state)
{
    size_t pemlen;
    const char *pem = auth_rsa_public_pem(&pemlen);
    uint8_t ct[256];
    char big[300];

    memset(big, 'x', sizeof(big));
    assert_int_equal(auth_rsa_encrypt_password("not a pem", 9, PW, PWLEN, test_nonce, ct, 256), -1);
    assert_int_equal(auth_rsa_encrypt_password(pem, pemlen, PW, PWLEN, test_nonce, ct, 255), -1);
    /* OAEP-SHA1 on RSA-2048 holds 214 bytes: pw + NUL up to 213 + 1. */
    assert_int_equal(auth_rsa_encrypt_password(pem, pemlen, big, 213, test_nonce, ct, 256), 256);
    assert_int_equal(auth_rsa_encrypt_password(pem, pemlen, big, 214, test_nonce, ct, 256), -1);
    /* Failures leave nothing on the error queue for a later SSL_get_error(). */
    assert_int_equal(ERR_peek_error(), 0);
}

static void test_rsa_uninitialised(void **state)
{
    uint8_t ct[256] = {0};
    char back[16];
    size_t len = 123;

    auth_rsa_cleanup();
    assert_null(auth_rsa_public_pem(&len));
    assert_int_equal(len, 0);
    assert_int_equal(auth_rsa_decrypt_password(ct, 256, test_nonce, back, sizeof(back)), -1);
    assert_int_equal(auth_rsa_init(), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nonce_printable_no_dollar),
        cmocka_unit_test(test_native_stage2_matches_password_function),
        cmocka_unit_test(test_native_token_known_vector),
        cmocka_unit_test(test_native_verify),
        cmocka_unit_test(test_native_empty_password),
        cmocka_unit_test(test_native_parse_hash),
        cmocka_unit_test(test_sha2_token_known_vector),
        cmocka_unit_test(test_sha2_verify),
        cmocka_unit_test(test_sha2_empty_password),
        cmocka_unit_test(test_sha256_crypt_matches_glibc),
        cmocka_unit_test(test_sha256_crypt_spec_vector),
        cmocka_unit_test(test_sha2_crypt_make_check),
        cmocka_unit_test(test_sha2_crypt_rejects_malformed),
        cmocka_unit_test(test_sha2_crypt_hex_rounds),
        cmocka_unit_test(test_rsa_public_pem),
        cmocka_unit_test(test_rsa_roundtrip),
        cmocka_unit_test(test_rsa_wire_format),
        cmocka_unit_test(test_rsa_encrypt_errors),
        cmocka_unit_test(test_rsa_uninitialised),
    };
    return cmocka_run_group_tests(tests, rsa_setup, rsa_teardown);
}

/*
 * Password hashing with libsodium's argon2id.  The cost comes from the
 * configuration; a hash records its own cost, so raising it later still
 * verifies older hashes.  A dummy hash of the same cost, made once at
 * start, lets a login for an unknown id take as long as a real one, so the
 * timing does not tell which ids exist.
 */
#include <string.h>

#include <sodium.h>

#include "fcgi_app.h"
#include "log.h"

static char	auth_dummy_hash[AUTH_HASH_MAX];

/* Call once, before forking the workers. */
int
auth_init(const struct config *cf)
{
	char	random[32];

	if (sodium_init() < 0)
		return -1;
	randombytes_buf(random, sizeof(random));
	/* Hex-free random bytes are fine: the password is only ever hashed. */
	if (crypto_pwhash_str(auth_dummy_hash, random, sizeof(random),
	    (unsigned long long)cf->pwhash_opslimit,
	    (size_t)cf->pwhash_memlimit_kib * 1024) != 0)
		return -1;
	sodium_memzero(random, sizeof(random));
	return 0;
}

/* Hashes password into out (AUTH_HASH_MAX bytes); -1 when out of memory. */
int
auth_hash(const struct config *cf, const char *password, char *out)
{
	if (crypto_pwhash_str(out, password, strlen(password),
	    (unsigned long long)cf->pwhash_opslimit,
	    (size_t)cf->pwhash_memlimit_kib * 1024) != 0) {
		log_warnx("%s: crypto_pwhash_str failed", __func__);
		return -1;
	}
	return 0;
}

/*
 * Whether password matches hash; hash NULL checks against the dummy hash
 * and always fails, taking the same time.
 */
int
auth_verify(const char *hash, const char *password)
{
	int	ok;

	ok = crypto_pwhash_str_verify(hash != NULL ? hash : auth_dummy_hash,
	    password, strlen(password)) == 0;
	return hash != NULL && ok;
}

/*
 * libFuzzer target for push_daemon/fcgi-client.c: a worker's answer, fed
 * in pieces whose sizes come from the first input byte, must decode the
 * same way whole or split, and every pair list must decode within bounds.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../push_daemon/push_daemon.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Sums the content of every chunk; -1 on a broken stream. */
static long
decode(const uint8_t *data, size_t size, size_t step)
{
	struct fcgi_decoder	 d;
	struct fcgi_chunk	 c;
	const char		*errstr;
	const uint8_t		*name, *value;
	size_t			 off, n, pos, used, nl, vl, u;
	long			 total = 0;

	fcgi_decoder_init(&d);
	for (off = 0; off < size; off += n) {
		n = size - off < step ? size - off : step;
		for (pos = 0; pos < n; pos += used) {
			switch (fcgi_decode(&d, data + off + pos, n - pos,
			    &used, &c, &errstr)) {
			case FCGI_ERROR:
				return -1;
			case FCGI_MORE:
				break;
			case FCGI_CHUNK:
				if (used > n - pos || c.len > 65535)
					abort();
				total += (long)c.len * c.type;
				if (c.type == FCGI_PARAMS &&
				    fcgi_pair_decode(c.data, c.len, &u, &name,
				    &nl, &value, &vl) == 0 && u > c.len)
					abort();
				break;
			}
		}
	}
	return total;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t	step;

	if (size < 1)
		return 0;
	step = data[0] % 16 + 1;
	data++;
	size--;
	if (decode(data, size, size > 0 ? size : 1) != decode(data, size, step))
		abort();
	return 0;
}

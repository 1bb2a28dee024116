/* sockperm.c: the modes and group of the service's Unix sockets. */
#ifndef COMMON_SOCKPERM_H
#define COMMON_SOCKPERM_H

#include <sys/types.h>

/* nginx's sockets: its user (through socket_group) and ours. */
#define SOCKPERM_NGINX		0660
/* The daemon -> worker socket: identities, so ours alone. */
#define SOCKPERM_PRIVATE	0600

mode_t	sockperm_umask(void);
int	sockperm_set(const char *path, mode_t mode, const char *group,
	    const char **errstr);

#endif

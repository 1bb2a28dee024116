/*
 * Who may connect to a Unix socket the service listens on.  connect(2)
 * needs write permission on the socket file, so its mode and group are the
 * whole access control: the sockets that nginx reaches are 0660 with
 * socket_group (nginx's group), and the one that carries identities is
 * 0600, the service's own user alone (docs/ARCHITECTURE.md).  A socket is
 * bound under a umask that leaves it 0600, so that nobody can connect in
 * the moment before its final mode is set.
 */
#include <sys/stat.h>

#include <grp.h>
#include <unistd.h>

#include "sockperm.h"

/* The umask to bind under: the socket starts as 0600. */
mode_t
sockperm_umask(void)
{
	return umask(0177);
}

/*
 * Gives path mode, and group's ownership unless group is "" (the
 * process's own group stays).  Returns 0, or -1 with *errstr.
 */
int
sockperm_set(const char *path, mode_t mode, const char *group,
    const char **errstr)
{
	struct group	*gr;

	if (group[0] != '\0') {
		if ((gr = getgrnam(group)) == NULL) {
			*errstr = "socket_group names no group";
			return -1;
		}
		if (chown(path, (uid_t)-1, gr->gr_gid) == -1) {
			*errstr = "cannot give the socket to socket_group";
			return -1;
		}
	}
	if (chmod(path, mode) == -1) {
		*errstr = "cannot set the socket's mode";
		return -1;
	}
	return 0;
}

#define _GNU_SOURCE
#include "notify.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

struct notice {
	struct notice *next;
	fuse_ino_t ino;    /* the inode, or the parent of `name` */
	size_t len;        /* 0: an inode; else the name's length */
	char name[];
};

static struct fuse_session *session;
static pthread_t thread;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static struct notice *head, *tail;
static int running, stopping;

/* Logs a failed notification; ENOENT is none: the kernel no longer knows
 * the inode, so nothing was cached. Returns 0, or -1 when it failed. */
static int delivered(int rc)
{
	if (rc == 0 || rc == -ENOENT)
		return 0;
	log_limited("notify", "telling the kernel of a change failed: %s", strerror(-rc));
	return -1;
}

static void *deliver(void *unused)
{
	(void)unused;
	pthread_mutex_lock(&lock);
	for (;;) {
		while (!head && !stopping)
			pthread_cond_wait(&wake, &lock);
		if (!head)
			break;
		struct notice *n = head;
		head = n->next;
		if (!head)
			tail = NULL;
		pthread_mutex_unlock(&lock);
		delivered(n->len ? fuse_lowlevel_notify_inval_entry(session, n->ino, n->name, n->len)
				 : fuse_lowlevel_notify_inval_inode(session, n->ino, 0, 0));
		free(n);
		pthread_mutex_lock(&lock);
	}
	pthread_mutex_unlock(&lock);
	return NULL;
}

int notify_start(struct fuse_session *se)
{
	session = se;
	stopping = 0;
	sigset_t all, old; /* signals are for the thread that runs the loop */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	int rc = pthread_create(&thread, NULL, deliver, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0)
		return -1;
	running = 1;
	return 0;
}

void notify_stop(void)
{
	if (!running)
		return;
	pthread_mutex_lock(&lock);
	stopping = 1;
	pthread_cond_signal(&wake);
	pthread_mutex_unlock(&lock);
	pthread_join(thread, NULL);
	running = 0;
	while (head) { /* left when the kernel went away first */
		struct notice *n = head;
		head = n->next;
		free(n);
	}
	tail = NULL;
}

static int queue(fuse_ino_t ino, const char *name, size_t len)
{
	if (!running)
		return -1;
	struct notice *n = malloc(sizeof *n + len + 1);
	if (!n)
		return -1;
	n->next = NULL;
	n->ino = ino;
	n->len = len;
	memcpy(n->name, name ? name : "", len);
	n->name[len] = '\0';
	pthread_mutex_lock(&lock);
	if (tail)
		tail->next = n;
	else
		head = n;
	tail = n;
	pthread_cond_signal(&wake);
	pthread_mutex_unlock(&lock);
	return 0;
}

int notify_inode(fuse_ino_t ino)
{
	return queue(ino, NULL, 0);
}

int notify_entry(fuse_ino_t parent, const char *name, size_t len)
{
	return queue(parent, name, len);
}

int notify_attributes_now(fuse_ino_t ino)
{
	if (!running)
		return -1;
	/* A negative offset drops attributes (and cached ACLs) only: no page
	 * or directory lock is taken, so it cannot wait on a request. */
	return delivered(fuse_lowlevel_notify_inval_inode(session, ino, -1, 0));
}

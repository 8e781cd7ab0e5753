/*
 * gw_notify.h - tell a service manager what the daemon is doing (the
 * sd_notify protocol of systemd's Type=notify, without libsystemd).
 *
 * When junction runs under systemd with Type=notify, $NOTIFY_SOCKET names
 * a UNIX datagram socket (a path, or "@name" in the abstract namespace);
 * each state is one datagram of "KEY=value" lines.  Without the variable
 * every call does nothing, so the daemon behaves the same by hand.
 *
 * Threads: the main thread (start-up, signals, shutdown).
 */
#ifndef GW_NOTIFY_H
#define GW_NOTIFY_H

/* Send state ("READY=1", "STOPPING=1", "RELOADING=1\nMONOTONIC_USEC=...")
 * to $NOTIFY_SOCKET.  0 when sent or when there is no such socket, else a
 * negative code (the caller logs it: a manager that cannot hear us will
 * time the start out). */
int gw_notify(const char *state);

/* The same with "RELOADING=1" and the monotonic time systemd's
 * Type=notify-reload asks for; gw_notify("READY=1") ends the reload. */
int gw_notify_reloading(void);

#endif

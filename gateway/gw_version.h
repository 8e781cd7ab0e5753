/* gw_version.h - the one place the version is written. */
#ifndef GW_VERSION_H
#define GW_VERSION_H
#define JUNCTION_VERSION "0.1.0"
#endif

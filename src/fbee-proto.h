/* fbee-proto.h: the msgpack wire format between the master and its bees. */
#ifndef FBEE_PROTO_H
#define FBEE_PROTO_H
#define FBEE_PROTO_VERSION	1
#endif

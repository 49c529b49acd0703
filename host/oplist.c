#include "oplist.h"

const char *const op_names[OP_COUNT] = {
#define OP_NAME(name, handler) #name,
	MOONFS_OPS(OP_NAME)
#undef OP_NAME
};

const unsigned char op_is_handler[OP_COUNT] = {
#define OP_HANDLER(name, handler) handler,
	MOONFS_OPS(OP_HANDLER)
#undef OP_HANDLER
};

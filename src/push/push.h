/*
 * push.h: the push driver (src/push/push.c): CALL billing._push_connector(run) runs one push run.
 */
#ifndef PGB_PUSH_H
#define PGB_PUSH_H

#include "fmgr.h"

extern Datum pgb_push_connector(PG_FUNCTION_ARGS);

#endif

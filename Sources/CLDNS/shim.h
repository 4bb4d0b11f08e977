#ifndef SWITCHYARD_CLDNS_SHIM_H
#define SWITCHYARD_CLDNS_SHIM_H
// stdbool first: otherwise ldns/common.h defines bool as signed char.
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <ldns/ldns.h>
#endif

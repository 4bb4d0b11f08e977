#ifndef SWITCHYARD_CRDKAFKA_SHIM_H
#define SWITCHYARD_CRDKAFKA_SHIM_H
// librdkafka (Debian's librdkafka-dev), used only by SwitchyardKafka for metadata gates.
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <librdkafka/rdkafka.h>
#endif

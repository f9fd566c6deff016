// The only file not linked into tests.
#include <Poco/Util/ServerApplication.h>

#include "host/daemon.h"

POCO_SERVER_MAIN(ciclo::host::Daemon)

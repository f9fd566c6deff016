// The only file not linked into tests.
#include <Poco/Util/ServerApplication.h>

#include <iostream>  // POCO_SERVER_MAIN reports uncaught exceptions on std::cerr

#include "host/daemon.h"

POCO_SERVER_MAIN(ciclo::host::Daemon)

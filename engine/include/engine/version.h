#ifndef ENGINE_VERSION_H
#define ENGINE_VERSION_H
const char *eng_version(void);
#endif

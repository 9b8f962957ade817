/* cmd_validate.h: `kpsim validate` and `kpsim list`, the commands that load scenarios without
 * running them (docs/scenarios.md).
 *
 *   kpsim validate PATH...   every file (folders: every *.yaml below) loaded with its
 *                            includes and variants; problems on stderr as file:line:col:
 *                            message; exit 0 all valid, 2 otherwise
 *   kpsim list [--filter GLOB] [--tag T]... [--skip-tag T]... PATH...
 *                            the selected scenarios, one per line: name, file, tags
 *                            (tab-separated); exit 0, or 2 when a file is invalid
 * argv holds the arguments after the command name. Both return the exit code. */
#ifndef HX_CMD_VALIDATE_H
#define HX_CMD_VALIDATE_H

int hx_cmd_validate(int argc, char **argv);
int hx_cmd_list(int argc, char **argv);

#endif

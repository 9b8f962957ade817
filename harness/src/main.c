/* main.c: the kpsim command (being built). */
#include <stdio.h>

int main(void)
{
    fprintf(stderr, "kpsim: not built yet\n");
    return 2;
}

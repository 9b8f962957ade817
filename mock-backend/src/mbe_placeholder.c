/* temporary: replaced by the mock back-end sources */
int mbe_placeholder_(void);
int mbe_placeholder_(void)
{
    return 0;
}

# Helpers shared by every room's CMakeLists.txt.

# kpsim_warnings(<target>): the house warning set (-Werror when KPSIM_WERROR is on, as in
# CI) and the feature macros every room relies on (POSIX 2008 and GNU extensions of glibc).
function(kpsim_warnings target)
    target_compile_options(${target} PRIVATE -Wall -Wextra -Wshadow -Wformat=2
        -Wstrict-prototypes -Wmissing-prototypes -Wno-unused-parameter)
    target_compile_definitions(${target} PRIVATE _GNU_SOURCE)
    if(KPSIM_WERROR)
        target_compile_options(${target} PRIVATE -Werror)
    endif()
endfunction()

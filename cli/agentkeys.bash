# bash completion for agentkeys (issue 13). The command list comes from the binary itself
# (`agentkeys help --commands`, generated from the command tables), so it never goes stale.
_agentkeys() {
    local cur words_before cmds
    cur=${COMP_WORDS[COMP_CWORD]}
    # Words typed so far, without global options and their values.
    words_before=()
    local i w skip=0
    for ((i = 1; i < COMP_CWORD; i++)); do
        w=${COMP_WORDS[i]}
        if [ $skip = 1 ]; then skip=0; continue; fi
        case $w in
            --profile) skip=1 ;;
            --*) ;;
            *) words_before+=("$w") ;;
        esac
    done
    if [ "${COMP_WORDS[COMP_CWORD-1]}" = "--profile" ]; then
        local dir=${XDG_CONFIG_HOME:-$HOME/.config}/agentkeys
        COMPREPLY=($(compgen -W "$(cd "$dir" 2>/dev/null && ls -- *.conf 2>/dev/null | sed 's/\.conf$//')" -- "$cur"))
        return
    fi
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "--profile --json --help --version" -- "$cur"))
        return
    fi
    cmds=$("${COMP_WORDS[0]}" help --commands 2>/dev/null)
    local prefix="${words_before[*]}" n=${#words_before[@]} next=()
    local line
    while IFS= read -r line; do
        [ -z "$line" ] && continue
        read -r -a parts <<<"$line"
        [ ${#parts[@]} -le "$n" ] && continue
        if [ "$n" = 0 ] || [ "${parts[*]:0:n}" = "$prefix" ]; then next+=("${parts[n]}"); fi
    done <<<"$cmds"
    if [ ${#next[@]} -gt 0 ]; then
        COMPREPLY=($(compgen -W "$(printf '%s\n' "${next[@]}" | sort -u)" -- "$cur"))
    else
        COMPREPLY=($(compgen -f -- "$cur"))
    fi
}
complete -F _agentkeys agentkeys

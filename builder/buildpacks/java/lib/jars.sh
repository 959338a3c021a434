# Finding the jar a Java app runs as; sourced by bin/compile and bin/release.

# The jars the build left where Maven (target/) and Gradle (build/libs/) put them,
# without the side artifacts (sources, javadoc, tests, the shade plugin's original-*).
built_jars() {  # built_jars BUILD_DIR
    local jar name
    for jar in "$1"/target/*.jar "$1"/build/libs/*.jar; do
        [ -f "$jar" ] || continue
        name=$(basename "$jar")
        case "$name" in
            original-*|*-sources.jar|*-javadoc.jar|*-tests.jar|*-test-sources.jar) continue ;;
        esac
        echo "${jar#"$1"/}"
    done
}

# Whether the jar's manifest names a Main-Class (read with the JDK's own jar tool).
has_main_class() {  # has_main_class JAR
    local jar dir status
    jar=$(realpath "$1") && dir=$(mktemp -d) || return 1
    (cd "$dir" && jar xf "$jar" META-INF/MANIFEST.MF 2>/dev/null)
    grep -qi '^Main-Class:' "$dir/META-INF/MANIFEST.MF" 2>/dev/null
    status=$?
    rm -rf "$dir"
    return $status
}

# Prints the one runnable jar (path relative to BUILD_DIR) and succeeds; fails when there
# are none or several: then the app names its processes in a Procfile. Paths with characters
# that would need quoting in a shell command or YAML are not used for a default command.
runnable_jar() {  # runnable_jar BUILD_DIR
    local jar found=()
    while IFS= read -r jar; do
        has_main_class "$1/$jar" && found+=("$jar")
    done < <(built_jars "$1")
    [ ${#found[@]} -eq 1 ] && [[ "${found[0]}" =~ ^[A-Za-z0-9._/+-]+$ ]] || return 1
    echo "${found[0]}"
}

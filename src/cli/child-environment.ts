/**
 * The environment `coffer run` gives its command: the policy alone, with no I/O, so that it can be
 * read (and tested) in one place. docs/cli.md lists the names with their sources.
 *
 * A secret is data written by whoever may set values in a store; an environment variable can be
 * code. A key that may only write values must not be able to choose the program the command runs
 * or what that program loads, so secrets never set the variables below unless the user names each
 * one with `--allow-env NAME`.
 */

/** What a POSIX shell accepts as a variable name; other secret names are skipped. */
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Coffer's own configuration and credentials: never passed on, inherited or not. */
const COFFER_PREFIX = 'COFFER_';

/**
 * Variables that choose which program runs or what it loads (code, libraries, start-up files,
 * options that load code), or that turn off the verification of what it talks to. Compared
 * without regard to case (Windows' environment is case-insensitive, and npm reads both cases).
 */
const CONTROLLING_NAMES: ReadonlySet<string> = new Set([
  // Where programs are found, how words are split, where `cd` goes, the user's start-up files.
  'PATH',
  'IFS',
  'CDPATH',
  'HOME',
  'XDG_CONFIG_HOME',
  'SHELL',
  // Shells' start-up files, options and prompts (bash(1), dash(1), zsh(1), ksh(1)).
  'ENV',
  'BASH_ENV',
  'ZDOTDIR',
  'SHELLOPTS',
  'BASHOPTS',
  'PROMPT_COMMAND',
  'PS0',
  'PS1',
  'PS2',
  'PS3',
  'PS4',
  'FPATH',
  'BASH_LOADABLES_PATH',
  'BASH_XTRACEFD',
  'INPUTRC',
  // glibc: what it ignores in secure-execution mode besides LD_* (sysdeps/generic/unsecvars.h).
  'GCONV_PATH',
  'GETCONF_DIR',
  'GLIBC_TUNABLES',
  'HOSTALIASES',
  'LOCALDOMAIN',
  'LOCPATH',
  'MALLOC_TRACE',
  'NIS_PATH',
  'NLSPATH',
  'RESOLV_HOST_CONF',
  'RES_OPTIONS',
  'TMPDIR',
  'TZDIR',
  // OpenSSL: configuration, engines and providers are shared libraries it loads.
  'OPENSSL_CONF',
  'OPENSSL_ENGINES',
  'OPENSSL_MODULES',
  // Programs other programs start: editors, pagers, password prompts.
  'EDITOR',
  'VISUAL',
  'PAGER',
  'MANPAGER',
  'LESSOPEN',
  'LESSCLOSE',
  'BROWSER',
  'SSH_ASKPASS',
  'SUDO_ASKPASS',
  // Node.js (nodejs.org/api/cli.html#environment-variables).
  'NODE_OPTIONS',
  'NODE_PATH',
  'NODE_REPL_EXTERNAL_MODULE',
  'NODE_ICU_DATA',
  'NODE_EXTRA_CA_CERTS',
  'NODE_TLS_REJECT_UNAUTHORIZED',
  // Yarn (Berry): the Yarn release to run, and the rc file naming it.
  'YARN_YARN_PATH',
  'YARN_RC_FILENAME',
  // Python (docs.python.org/3/using/cmdline.html#environment-variables).
  'PYTHONPATH',
  'PYTHONHOME',
  'PYTHONSTARTUP',
  'PYTHONUSERBASE',
  'PYTHONPLATLIBDIR',
  'PYTHONPYCACHEPREFIX',
  'PYTHONWARNINGS',
  'PYTHONBREAKPOINT',
  'PYTHONEXECUTABLE',
  'PYTHONHTTPSVERIFY',
  // Perl (perlrun(1)).
  'PERL5LIB',
  'PERLLIB',
  'PERL5OPT',
  'PERL5DB',
  // Ruby (ruby(1)) and RubyGems/Bundler.
  'RUBYOPT',
  'RUBYLIB',
  'GEM_HOME',
  'GEM_PATH',
  'BUNDLE_GEMFILE',
  // Java (the JVM's own, and the launch scripts' conventions).
  'JAVA_TOOL_OPTIONS',
  '_JAVA_OPTIONS',
  'JDK_JAVA_OPTIONS',
  'CLASSPATH',
  'JAVA_HOME',
  'JAVA_OPTS',
  'MAVEN_OPTS',
  'GRADLE_OPTS',
  // .NET (start-up hooks and profilers are code it loads).
  'DOTNET_STARTUP_HOOKS',
  'DOTNET_ADDITIONAL_DEPS',
  'DOTNET_ROOT',
  // Go (`go run`: -toolexec, toolchain downloads, where modules come from and are checked).
  'GOFLAGS',
  'GOROOT',
  'GOTOOLCHAIN',
  'GOENV',
  'GOPROXY',
  'GOSUMDB',
  'GONOSUMDB',
  'GONOSUMCHECK',
  'GOINSECURE',
  'GOPRIVATE',
  // Rust/Cargo (`cargo run`: the compiler and its wrappers).
  'RUSTC',
  'RUSTC_WRAPPER',
  'RUSTC_WORKSPACE_WRAPPER',
  'RUSTDOC',
  'RUSTFLAGS',
  'CARGO_HOME',
  'CARGO_BUILD_RUSTC',
  'CARGO_BUILD_RUSTC_WRAPPER',
  // PHP (php.ini can auto_prepend_file).
  'PHPRC',
  'PHP_INI_SCAN_DIR',
  // Lua (LUA_INIT runs code at start-up).
  'LUA_INIT',
  'LUA_PATH',
  'LUA_CPATH',
  // make reads MAKEFILES as extra makefiles.
  'MAKEFILES',
  'MAKEFLAGS',
  // Git: programs it runs, configuration it reads (hooks, sshCommand, fsmonitor), where it looks.
  'GIT_SSH',
  'GIT_SSH_COMMAND',
  'GIT_ASKPASS',
  'GIT_EDITOR',
  'GIT_SEQUENCE_EDITOR',
  'GIT_PAGER',
  'GIT_EXEC_PATH',
  'GIT_EXTERNAL_DIFF',
  'GIT_PROXY_COMMAND',
  'GIT_TEMPLATE_DIR',
  'GIT_DIR',
  'GIT_WORK_TREE',
  'GIT_CONFIG',
  'GIT_CONFIG_GLOBAL',
  'GIT_CONFIG_SYSTEM',
  'GIT_CONFIG_PARAMETERS',
  'GIT_CONFIG_COUNT',
  'GIT_SSL_NO_VERIFY',
  'GIT_SSL_CAINFO',
  // TLS trust stores used by OpenSSL, curl and Python's requests.
  'SSL_CERT_FILE',
  'SSL_CERT_DIR',
  'CURL_CA_BUNDLE',
  'REQUESTS_CA_BUNDLE',
]);

/** Whole families: the dynamic loaders (ld.so(8), dyld(1)), exported bash functions, npm's configuration, … */
const CONTROLLING_PREFIXES: readonly string[] = [
  'LD_',
  'DYLD_',
  'BASH_FUNC_',
  'NPM_CONFIG_',
  'GIT_CONFIG_KEY_',
  'GIT_CONFIG_VALUE_',
  'CORECLR_',
  'COR_ENABLE_PROFILING',
  'COR_PROFILER',
  'LUA_INIT_',
  'LUA_PATH_',
  'LUA_CPATH_',
];

/** True when a secret of this name would choose what the command runs or loads (docs/cli.md). */
export function isControllingVariable(name: string): boolean {
  const upper = name.toUpperCase();
  return CONTROLLING_NAMES.has(upper) || CONTROLLING_PREFIXES.some((p) => upper.startsWith(p));
}

/** True for Coffer's own configuration and credentials, which the command never receives. */
export function isCofferVariable(name: string): boolean {
  return name.toUpperCase().startsWith(COFFER_PREFIX);
}

export interface ChildEnvironmentInput {
  /** Coffer's own environment (process.env). */
  readonly inherited: Readonly<Record<string, string | undefined>>;
  readonly secrets: readonly { readonly name: string; readonly value: string }[];
  /** Names given with `--allow-env`: secrets that may set these despite the rules above. */
  readonly allowed: readonly string[];
}

export interface ChildEnvironment {
  readonly env: Record<string, string>;
  /** Secret names that are not environment variable names. */
  readonly notVariableNames: string[];
  /** Secret names refused because they would control the command or are Coffer's own (`COFFER_*`). */
  readonly withheld: string[];
}

/**
 * The command's environment: the inherited one without any `COFFER_*`, then each secret over it
 * (a secret wins over an inherited variable of the same name, as with `doppler run` and
 * `infisical run`), except secrets whose names are not variable names, and secrets that would set
 * a controlling or a `COFFER_*` variable unless `allowed` names them exactly.
 */
export function childEnvironment(input: ChildEnvironmentInput): ChildEnvironment {
  // No prototype: a secret named `__proto__` is a variable like any other.
  const env = Object.create(null) as Record<string, string>;
  for (const [name, value] of Object.entries(input.inherited)) {
    if (value !== undefined && !isCofferVariable(name)) env[name] = value;
  }
  const allowed = new Set(input.allowed);
  const notVariableNames: string[] = [];
  const withheld: string[] = [];
  for (const { name, value } of input.secrets) {
    if (!ENV_NAME.test(name)) notVariableNames.push(name);
    else if ((isControllingVariable(name) || isCofferVariable(name)) && !allowed.has(name))
      withheld.push(name);
    else env[name] = value;
  }
  return { env, notVariableNames, withheld };
}

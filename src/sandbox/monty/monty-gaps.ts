/**
 * What Monty 0.0.23 lacks of CPython's modules and builtin types, probed once against the pinned
 * binary (`hasattr` over CPython 3.11's `dir()` of each module Monty has, and of an instance of each
 * builtin type), so the subset checker can send a program that needs them to full Python before it
 * runs. Re-probe when the pinned version changes.
 */

/** Public names of CPython's module that Monty's module lacks, by module. */
export const MISSING_MODULE_ATTRIBUTES: Readonly<Record<string, ReadonlySet<string>>> = {
  asyncio: new Set(
    'ALL_COMPLETED AbstractChildWatcher AbstractEventLoop AbstractEventLoopPolicy AbstractServer Barrier BaseEventLoop BaseProtocol BaseTransport BoundedSemaphore BrokenBarrierError BufferedProtocol CancelledError Condition DatagramProtocol DatagramTransport DefaultEventLoopPolicy Event FIRST_COMPLETED FIRST_EXCEPTION FastChildWatcher Future Handle IncompleteReadError InvalidStateError LifoQueue LimitOverrunError Lock MultiLoopChildWatcher PidfdChildWatcher PriorityQueue Protocol Queue QueueEmpty QueueFull ReadTransport Runner SafeChildWatcher SelectorEventLoop Semaphore SendfileNotAvailableError Server StreamReader StreamReaderProtocol StreamWriter SubprocessProtocol SubprocessTransport Task TaskGroup ThreadedChildWatcher Timeout TimeoutError TimerHandle Transport WriteTransport all_tasks as_completed base_events base_futures base_subprocess base_tasks constants coroutines create_subprocess_exec create_subprocess_shell create_task current_task ensure_future events exceptions format_helpers futures get_child_watcher get_event_loop get_event_loop_policy get_running_loop iscoroutine iscoroutinefunction isfuture locks log mixins new_event_loop open_connection open_unix_connection protocols queues run_coroutine_threadsafe runners selector_events set_child_watcher set_event_loop set_event_loop_policy shield sleep sslproto staggered start_server start_unix_server streams subprocess sys taskgroups tasks threads timeout timeout_at timeouts to_thread transports trsock unix_events wait wait_for wrap_future'.split(
      ' ',
    ),
  ),
  base64: new Set('binascii bytes_types decode encode main re struct test'.split(' ')),
  binascii: new Set('Incomplete a2b_qp a2b_uu b2a_qp b2a_uu crc_hqx'.split(' ')),
  collections: new Set('ChainMap OrderedDict UserDict UserList UserString abc'.split(' ')),
  dataclasses: new Set(
    'Field FunctionType GenericAlias InitVar KW_ONLY MISSING abc asdict astuple builtins copy field fields functools inspect itertools keyword make_dataclass re replace sys types'.split(
      ' ',
    ),
  ),
  datetime: new Set('MAXYEAR MINYEAR UTC datetime_CAPI sys tzinfo'.split(' ')),
  functools: new Set(
    'GenericAlias RLock WRAPPER_ASSIGNMENTS WRAPPER_UPDATES cache cached_property cmp_to_key get_cache_token lru_cache namedtuple partialmethod recursive_repr singledispatch singledispatchmethod total_ordering update_wrapper wraps'.split(
      ' ',
    ),
  ),
  itertools: new Set(
    'combinations combinations_with_replacement groupby permutations product tee'.split(' '),
  ),
  json: new Set(
    'JSONDecoder JSONEncoder codecs decoder detect_encoding dump encoder load scanner'.split(' '),
  ),
  math: new Set('dist fsum hypot prod'.split(' ')),
  re: new Set(
    'DEBUG L LOCALE RegexFlag Scanner T TEMPLATE U UNICODE VERBOSE X copyreg enum functools purge subn template'.split(
      ' ',
    ),
  ),
  sys: new Set(
    'abiflags addaudithook api_version argv audit base_exec_prefix base_prefix breakpointhook builtin_module_names byteorder call_tracing copyright displayhook dont_write_bytecode exc_info excepthook exception exec_prefix executable exit flags float_info float_repr_style get_asyncgen_hooks get_coroutine_origin_tracking_depth get_int_max_str_digits getallocatedblocks getdefaultencoding getdlopenflags getfilesystemencodeerrors getfilesystemencoding getprofile getrecursionlimit getrefcount getsizeof getswitchinterval gettrace hash_info hexversion implementation int_info intern is_finalizing maxsize maxunicode meta_path modules orig_argv path path_hooks path_importer_cache platlibdir prefix pycache_prefix set_asyncgen_hooks set_coroutine_origin_tracking_depth set_int_max_str_digits setdlopenflags setprofile setrecursionlimit setswitchinterval settrace stdin stdlib_module_names thread_info unraisablehook warnoptions'.split(
      ' ',
    ),
  ),
  typing: new Set(
    'ABCMeta AbstractSet AnyStr AsyncContextManager AsyncGenerator AsyncIterable AsyncIterator Awaitable BinaryIO ByteString CT_co ChainMap Collection Concatenate Container ContextManager Coroutine Counter DefaultDict Deque EXCLUDED_ATTRIBUTES ForwardRef GenericAlias Hashable IO ItemsView KT KeysView LiteralString MappingView Match MethodDescriptorType MethodWrapperType MutableMapping MutableSequence MutableSet NamedTuple NamedTupleMeta NewType NotRequired OrderedDict ParamSpec ParamSpecArgs ParamSpecKwargs Pattern Required Reversible Sized SupportsAbs SupportsBytes SupportsComplex SupportsFloat SupportsIndex SupportsInt SupportsRound T T_co T_contra Text TextIO TypeAlias TypeGuard TypeVarTuple TypedDict Unpack VT VT_co V_co ValuesView WrapperDescriptorType abstractmethod assert_never assert_type cast clear_overloads collections contextlib dataclass_transform defaultdict final functools get_args get_origin get_overloads get_type_hints io is_typeddict no_type_check no_type_check_decorator operator overload re reveal_type runtime_checkable stdlib_re sys types warnings'.split(
      ' ',
    ),
  ),
  unicodedata: new Set(
    'UCD bidirectional decimal decomposition digit east_asian_width mirrored numeric ucd_3_2_0'.split(' '),
  ),
};

/**
 * Methods and properties of CPython's builtin types. Monty calls a method (`d.get(k)`) but cannot
 * take one as a value (`key=d.get`), and reads none of these as attributes (`x.real`).
 */
export const BUILTIN_METHODS: ReadonlySet<string> = new Set(
  'add append as_integer_ratio bit_count bit_length capitalize casefold center clear conjugate copy count decode denominator difference difference_update discard encode endswith expandtabs extend find format format_map from_bytes fromhex fromkeys get hex imag index insert intersection intersection_update is_integer isalnum isalpha isascii isdecimal isdigit isdisjoint isidentifier islower isnumeric isprintable isspace issubset issuperset istitle isupper items join keys ljust lower lstrip maketrans numerator partition pop popitem real remove removeprefix removesuffix replace reverse rfind rindex rjust rpartition rsplit rstrip setdefault sort split splitlines startswith strip swapcase symmetric_difference symmetric_difference_update title to_bytes translate union update upper values zfill'.split(
    ' ',
  ),
);

//! A small but real CLAP host: loads a plugin's shared library, creates instances, and drives
//! them the way a DAW does (main thread for the lifecycle, parameters and state; a separate
//! audio thread for processing), so the integration tests can check the built plugin from the
//! outside. Every `unsafe` FFI call lives in this module behind a safe API.
//!
//! Threading follows the CLAP contract: a [`PluginInstance`] stays on the thread that created
//! it (its main thread), and [`PluginInstance::run_audio_thread`] hands an [`AudioThread`] to a
//! second thread for `start_processing` / `process` / `stop_processing` while the main thread
//! keeps serving the plugin's `request_callback`s and watches the reported latency.

use std::cell::Cell;
use std::ffi::{CStr, CString, c_char, c_void};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::thread::{self, ThreadId};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap_sys::audio_buffer::clap_audio_buffer;
use clap_sys::entry::clap_plugin_entry;
use clap_sys::events::{
    CLAP_CORE_EVENT_SPACE_ID, CLAP_EVENT_PARAM_VALUE, clap_event_header, clap_event_param_value,
    clap_input_events, clap_output_events,
};
use clap_sys::ext::audio_ports::{
    CLAP_AUDIO_PORT_IS_MAIN, CLAP_EXT_AUDIO_PORTS, clap_audio_port_info, clap_plugin_audio_ports,
};
use clap_sys::ext::latency::{CLAP_EXT_LATENCY, clap_host_latency, clap_plugin_latency};
use clap_sys::ext::params::{
    CLAP_EXT_PARAMS, CLAP_PARAM_IS_BYPASS, CLAP_PARAM_IS_STEPPED, clap_host_params,
    clap_param_clear_flags, clap_param_info, clap_param_rescan_flags, clap_plugin_params,
};
use clap_sys::ext::render::{
    CLAP_EXT_RENDER, CLAP_RENDER_OFFLINE, CLAP_RENDER_REALTIME, clap_plugin_render,
};
use clap_sys::ext::state::{CLAP_EXT_STATE, clap_host_state, clap_plugin_state};
use clap_sys::ext::thread_check::{CLAP_EXT_THREAD_CHECK, clap_host_thread_check};
use clap_sys::factory::plugin_factory::{CLAP_PLUGIN_FACTORY_ID, clap_plugin_factory};
use clap_sys::host::clap_host;
use clap_sys::id::clap_id;
use clap_sys::plugin::{clap_plugin, clap_plugin_descriptor};
use clap_sys::process::{
    CLAP_PROCESS_CONTINUE, CLAP_PROCESS_CONTINUE_IF_NOT_QUIET, CLAP_PROCESS_ERROR,
    CLAP_PROCESS_SLEEP, CLAP_PROCESS_TAIL, clap_process,
};
use clap_sys::stream::{clap_istream, clap_ostream};
use clap_sys::version::{CLAP_VERSION, clap_version_is_compatible};

/// Most bytes a state stream moves per `read`/`write` call. Hosts' buffered streams return
/// short counts, so the plugin must loop; a small chunk makes sure that path is exercised.
const STREAM_CHUNK_BYTES: usize = 64;

/// How often the main thread looks for `request_callback`s and samples the latency while the
/// audio thread runs.
const MAIN_THREAD_POLL: Duration = Duration::from_millis(2);

/// The mapped CLAP library with its initialised entry point; shared by every
/// [`PluginLibrary`] handle of the process.
struct LoadedLibrary {
    /// The library's `clap_entry`, inside the mapped library.
    entry: *const clap_plugin_entry,
    /// The plugin factory the entry returned; valid until `deinit`.
    factory: *const clap_plugin_factory,
    /// Where the library was loaded from, for error messages.
    path: PathBuf,
    /// Keeps the shared object mapped while the pointers above are in use.
    _library: libloading::Library,
}

// SAFETY: the CLAP entry's functions and the plugin factory are thread-safe by the CLAP
// specification; the struct holds nothing else that is tied to a thread.
unsafe impl Send for LoadedLibrary {}
// SAFETY: as for `Send`: every function reachable through the shared pointers is thread-safe.
unsafe impl Sync for LoadedLibrary {}

/// The library loaded in this process and how many [`PluginLibrary`] handles use it. Hosts
/// load a plugin library once and call `init`/`deinit` once each; counting handles under this
/// lock lets tests running in parallel share one `init`, and makes the last one out `deinit`
/// before anyone can `init` again.
static LOADED: Mutex<Option<(Arc<LoadedLibrary>, usize)>> = Mutex::new(None);

/// Locks [`LOADED`]; a test that panicked while holding it left it consistent (every update
/// is a single assignment), so poisoning is ignored.
fn lock_loaded() -> MutexGuard<'static, Option<(Arc<LoadedLibrary>, usize)>> {
    LOADED.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A handle on the loaded, initialised CLAP library. Every handle (and every instance, which
/// holds one) keeps it initialised; dropping the last one calls `deinit`.
pub struct PluginLibrary {
    /// The shared library state.
    shared: Arc<LoadedLibrary>,
}

/// What the factory says about one plugin it can create.
#[derive(Debug, Clone, PartialEq)]
pub struct PluginDescriptor {
    /// The plugin's unique CLAP id (`create` takes it).
    pub id: String,
    /// The display name.
    pub name: String,
    /// The plugin's version string.
    pub version: String,
    /// Feature tags such as `audio-effect`.
    pub features: Vec<String>,
}

impl PluginLibrary {
    /// Loads the CLAP library at `path` and initialises its entry point, or hands out another
    /// handle on the library already loaded from the same path.
    pub fn load(path: &Path) -> Result<Self> {
        let mut loaded = lock_loaded();
        if let Some((shared, handles)) = loaded.as_mut() {
            if shared.path != path {
                bail!(
                    "{} is already loaded; this host keeps one CLAP library per process, so {} \
                     cannot be loaded next to it",
                    shared.path.display(),
                    path.display()
                );
            }
            *handles += 1;
            return Ok(Self {
                shared: Arc::clone(shared),
            });
        }

        // SAFETY: loading runs the library's initialisers; a CLAP plugin library has none that
        // the host must guard against beyond what `clap_entry.init` documents.
        let library = unsafe { libloading::Library::new(path) }
            .with_context(|| format!("could not load the CLAP library {}", path.display()))?;
        // SAFETY: CLAP libraries export `clap_entry` as a `clap_plugin_entry` static; the symbol's
        // address is the struct's address, and the library stays loaded while we use it.
        let entry: *const clap_plugin_entry = unsafe {
            *library
                .get::<*const clap_plugin_entry>(b"clap_entry\0")
                .with_context(|| format!("{} exports no `clap_entry`", path.display()))?
        };
        // SAFETY: `entry` points at the library's static entry struct, checked non-null by `get`.
        let entry_ref = unsafe { &*entry };
        if !clap_version_is_compatible(entry_ref.clap_version) {
            bail!(
                "{} speaks CLAP {:?}, which this host ({:?}) cannot load",
                path.display(),
                entry_ref.clap_version,
                CLAP_VERSION
            );
        }
        let (Some(init), Some(deinit), Some(get_factory)) =
            (entry_ref.init, entry_ref.deinit, entry_ref.get_factory)
        else {
            bail!(
                "{}'s clap_entry lacks init, deinit or get_factory",
                path.display()
            );
        };
        let c_path = CString::new(path.as_os_str().as_encoded_bytes())
            .context("the library path contains a NUL byte")?;
        // SAFETY: the library is not initialised (no handle exists, and we hold `LOADED`), and
        // the path is NUL-terminated, as the CLAP entry contract requires.
        if !unsafe { init(c_path.as_ptr()) } {
            bail!("{}: clap_entry.init returned false", path.display());
        }
        // SAFETY: `init` succeeded, so the entry may be asked for factories.
        let factory =
            unsafe { get_factory(CLAP_PLUGIN_FACTORY_ID.as_ptr()) } as *const clap_plugin_factory;
        if factory.is_null() {
            // SAFETY: balances the successful `init` above; nothing else uses the library.
            unsafe { deinit() };
            bail!("{} has no plugin factory", path.display());
        }
        let shared = Arc::new(LoadedLibrary {
            entry,
            factory,
            path: path.to_path_buf(),
            _library: library,
        });
        *loaded = Some((Arc::clone(&shared), 1));
        Ok(Self { shared })
    }

    /// The plugin factory; valid while this handle lives.
    fn factory(&self) -> &clap_plugin_factory {
        // SAFETY: the library stays initialised while a handle exists.
        unsafe { &*self.shared.factory }
    }

    /// Every plugin the library's factory offers.
    pub fn descriptors(&self) -> Vec<PluginDescriptor> {
        let factory = self.factory();
        let (Some(count), Some(get)) = (factory.get_plugin_count, factory.get_plugin_descriptor)
        else {
            return Vec::new();
        };
        // SAFETY: factory functions are thread-safe and take the factory itself.
        let count = unsafe { count(factory) };
        (0..count)
            .filter_map(|index| {
                // SAFETY: `index` is below the count the factory reported.
                let descriptor = unsafe { get(factory, index) };
                // SAFETY: a non-null descriptor lives as long as the factory.
                (!descriptor.is_null()).then(|| unsafe { read_descriptor(&*descriptor) })
            })
            .collect()
    }
}

impl Clone for PluginLibrary {
    fn clone(&self) -> Self {
        if let Some((_, handles)) = lock_loaded().as_mut() {
            *handles += 1;
        }
        Self {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl Drop for PluginLibrary {
    fn drop(&mut self) {
        let mut loaded = lock_loaded();
        let Some((_, handles)) = loaded.as_mut() else {
            return;
        };
        *handles -= 1;
        if *handles == 0 {
            // SAFETY: this was the last handle, so no instance is alive; `entry` is still mapped
            // (our `shared` keeps the library loaded until after this), and holding `LOADED`
            // keeps a new `init` from running before this `deinit` has finished.
            if let Some(deinit) = unsafe { (*self.shared.entry).deinit } {
                // SAFETY: balances the one successful `init` of `load`.
                unsafe { deinit() };
            }
            *loaded = None;
        }
    }
}

/// Reads a descriptor's strings.
///
/// # Safety
/// Every string pointer in `descriptor` must be null or a valid NUL-terminated string, and
/// `features` must be null or a null-terminated array of such strings.
unsafe fn read_descriptor(descriptor: &clap_plugin_descriptor) -> PluginDescriptor {
    let mut features = Vec::new();
    if !descriptor.features.is_null() {
        let mut feature = descriptor.features;
        // SAFETY: the array is null-terminated (caller's contract), so every read up to and
        // including the terminator is in bounds.
        while !unsafe { *feature }.is_null() {
            // SAFETY: a non-null entry is a valid string; advancing stays within the array.
            unsafe {
                features.push(c_string(*feature));
                feature = feature.add(1);
            }
        }
    }
    // SAFETY: the caller guarantees the string pointers.
    unsafe {
        PluginDescriptor {
            id: c_string(descriptor.id),
            name: c_string(descriptor.name),
            version: c_string(descriptor.version),
            features,
        }
    }
}

/// A NUL-terminated C string as a Rust string (empty for null).
///
/// # Safety
/// `ptr` must be null or point at a valid NUL-terminated string.
unsafe fn c_string(ptr: *const c_char) -> String {
    if ptr.is_null() {
        String::new()
    } else {
        // SAFETY: non-null and NUL-terminated by the caller's contract.
        unsafe { CStr::from_ptr(ptr) }
            .to_string_lossy()
            .into_owned()
    }
}

/// A fixed-size C char array (as in `clap_param_info::name`) up to its first NUL.
fn fixed_string(chars: &[c_char]) -> String {
    let bytes: Vec<u8> = chars
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// What the plugin has asked of the host through its callbacks, shared between the main and
/// the audio thread.
struct HostShared {
    /// The host struct handed to the plugin; its `host_data` points back at this struct.
    clap_host: clap_host,
    /// The thread that created the instance: the only one `is_main_thread` answers yes for.
    main_thread: ThreadId,
    /// Set by `request_restart`: the plugin wants to be deactivated and reactivated.
    restart_requested: AtomicBool,
    /// Set by `request_callback`: the plugin wants `on_main_thread` called.
    callback_requested: AtomicBool,
    /// How many times the plugin said its latency changed (`clap_host_latency.changed`).
    latency_changes: AtomicUsize,
}

thread_local! {
    /// Whether this thread is an [`AudioThread`]'s, for the plugin's thread checks.
    static IS_AUDIO_THREAD: Cell<bool> = const { Cell::new(false) };
}

/// The shared host data behind a `clap_host` pointer the plugin passed back.
///
/// # Safety
/// `host` must be the `clap_host` of a live [`HostShared`] (every instance's host is).
unsafe fn host_shared<'a>(host: *const clap_host) -> &'a HostShared {
    // SAFETY: `host_data` points at the `HostShared` holding this `clap_host`, which the
    // instance keeps alive until after the plugin is destroyed.
    unsafe { &*((*host).host_data as *const HostShared) }
}

unsafe extern "C" fn host_get_extension(
    _host: *const clap_host,
    extension_id: *const c_char,
) -> *const c_void {
    if extension_id.is_null() {
        return std::ptr::null();
    }
    // SAFETY: the plugin passes a NUL-terminated extension id.
    let id = unsafe { CStr::from_ptr(extension_id) };
    if id == CLAP_EXT_THREAD_CHECK {
        &HOST_THREAD_CHECK as *const _ as *const c_void
    } else if id == CLAP_EXT_LATENCY {
        &HOST_LATENCY as *const _ as *const c_void
    } else if id == CLAP_EXT_PARAMS {
        &HOST_PARAMS as *const _ as *const c_void
    } else if id == CLAP_EXT_STATE {
        &HOST_STATE as *const _ as *const c_void
    } else {
        std::ptr::null()
    }
}

unsafe extern "C" fn host_request_restart(host: *const clap_host) {
    // SAFETY: the plugin passes back the host pointer it was created with.
    unsafe { host_shared(host) }
        .restart_requested
        .store(true, Ordering::SeqCst);
}

/// Processing is driven by the tests' own loops, so there is nothing to wake up.
unsafe extern "C" fn host_request_process(_host: *const clap_host) {}

unsafe extern "C" fn host_request_callback(host: *const clap_host) {
    // SAFETY: the plugin passes back the host pointer it was created with.
    unsafe { host_shared(host) }
        .callback_requested
        .store(true, Ordering::SeqCst);
}

/// The host's thread-check extension: nice-plug decides with it whether it may run GUI-thread
/// tasks right away or must ask for a main-thread callback.
static HOST_THREAD_CHECK: clap_host_thread_check = clap_host_thread_check {
    is_main_thread: Some(host_is_main_thread),
    is_audio_thread: Some(host_is_audio_thread),
};

unsafe extern "C" fn host_is_main_thread(host: *const clap_host) -> bool {
    // SAFETY: the plugin passes back the host pointer it was created with.
    thread::current().id() == unsafe { host_shared(host) }.main_thread
}

unsafe extern "C" fn host_is_audio_thread(_host: *const clap_host) -> bool {
    IS_AUDIO_THREAD.with(Cell::get)
}

/// The host's latency extension: counts the plugin's latency-change notifications.
static HOST_LATENCY: clap_host_latency = clap_host_latency {
    changed: Some(host_latency_changed),
};

unsafe extern "C" fn host_latency_changed(host: *const clap_host) {
    // SAFETY: the plugin passes back the host pointer it was created with.
    unsafe { host_shared(host) }
        .latency_changes
        .fetch_add(1, Ordering::SeqCst);
}

/// The host's params extension. The tests read values when they need them, so rescans and
/// clears need no bookkeeping; a flush request is answered by the next process call.
static HOST_PARAMS: clap_host_params = clap_host_params {
    rescan: Some(host_params_rescan),
    clear: Some(host_params_clear),
    request_flush: Some(host_params_request_flush),
};

unsafe extern "C" fn host_params_rescan(_host: *const clap_host, _flags: clap_param_rescan_flags) {}

unsafe extern "C" fn host_params_clear(
    _host: *const clap_host,
    _param_id: clap_id,
    _flags: clap_param_clear_flags,
) {
}

unsafe extern "C" fn host_params_request_flush(_host: *const clap_host) {}

/// The host's state extension. The tests save state explicitly, so "dirty" needs no action.
static HOST_STATE: clap_host_state = clap_host_state {
    mark_dirty: Some(host_state_mark_dirty),
};

unsafe extern "C" fn host_state_mark_dirty(_host: *const clap_host) {}

/// How the plugin should render: live (may not wait for anything) or offline (exact).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RenderMode {
    /// A live audio device: the plugin must never block.
    Realtime,
    /// Bouncing to disk: the plugin may take as long as it needs per block.
    Offline,
}

/// One audio port as the plugin describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct AudioPortInfo {
    /// The port's stable id.
    pub id: u32,
    /// Display name (the stem names of the aux outputs, for Tessera).
    pub name: String,
    /// Number of channels.
    pub channel_count: u32,
    /// Whether this is the main port of its direction.
    pub is_main: bool,
    /// `"mono"`, `"stereo"`, or empty when the plugin gives no type.
    pub port_type: String,
}

/// One parameter as the plugin describes it. Values are CLAP values: nice-plug reports every
/// parameter as `0..=1`, or `0..=steps` for stepped ones.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamInfo {
    /// The id that events and `param_value` use.
    pub id: u32,
    /// Display name, e.g. `"Vocals Gain"`.
    pub name: String,
    /// The group path, e.g. `"Vocals"`.
    pub module: String,
    /// Smallest CLAP value.
    pub min: f64,
    /// Largest CLAP value.
    pub max: f64,
    /// The default, as a CLAP value.
    pub default: f64,
    /// `CLAP_PARAM_IS_*` flags.
    pub flags: u32,
}

impl ParamInfo {
    /// Whether only whole values are valid (switches, choices).
    pub fn is_stepped(&self) -> bool {
        self.flags & CLAP_PARAM_IS_STEPPED != 0
    }

    /// Whether this is the plugin's bypass switch.
    pub fn is_bypass(&self) -> bool {
        self.flags & CLAP_PARAM_IS_BYPASS != 0
    }
}

/// A parameter value change: as an event `time` frames into a block, or (for
/// [`PluginInstance::set_params`]) applied at once.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ParamChange {
    /// Frame offset inside the block (ignored by `set_params`).
    pub time: u32,
    /// The parameter's id.
    pub param_id: u32,
    /// The new CLAP value.
    pub value: f64,
}

/// What a `process` call returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcessStatus {
    /// The plugin failed the block.
    Error,
    /// Keep calling `process`.
    Continue,
    /// Keep calling while the input is not silent.
    ContinueIfNotQuiet,
    /// The plugin is playing out its tail.
    Tail,
    /// The plugin may sleep until the next event or non-silent input.
    Sleep,
    /// A value CLAP does not define.
    Unknown(i32),
}

/// A plugin instance, driven from the thread that created it (its main thread).
pub struct PluginInstance {
    /// The plugin, valid until `Drop` destroys it.
    plugin: *const clap_plugin,
    /// The host callbacks' state. Behind an `Arc` so the `clap_host` the plugin holds never
    /// moves, and because the plugin reads it through its own pointer (which a `Box`'s claim
    /// to unique access would forbid).
    host: Arc<HostShared>,
    /// The activation in force, if any: buffers are sized from it.
    activation: Option<Activation>,
    /// Keeps the library initialised and mapped for as long as the plugin exists.
    _library: PluginLibrary,
}

/// The settings of an activation that processing needs to know.
#[derive(Debug, Clone, Copy)]
struct Activation {
    /// Largest block the plugin was promised.
    max_frames: u32,
}

/// What the main thread saw while an [`AudioThread`] ran.
#[derive(Debug, Clone)]
pub struct AudioRun<R> {
    /// What the audio thread's closure returned.
    pub value: R,
    /// Smallest latency the plugin reported during the run (sampled every few ms).
    pub min_latency: u32,
    /// Largest latency the plugin reported during the run.
    pub max_latency: u32,
    /// Whether the plugin asked for a restart during the run.
    pub restart_requested: bool,
}

impl PluginInstance {
    /// Creates and initialises the plugin `id` from `library`, on the calling thread, which
    /// becomes the instance's main thread.
    pub fn create(library: &PluginLibrary, id: &str) -> Result<Self> {
        let host = Arc::new_cyclic(|host: &Weak<HostShared>| HostShared {
            clap_host: clap_host {
                clap_version: CLAP_VERSION,
                host_data: host.as_ptr() as *mut c_void,
                name: c"Tessera test host".as_ptr(),
                vendor: c"Tessera".as_ptr(),
                url: c"https://example.invalid/tessera".as_ptr(),
                version: c"0.1.0".as_ptr(),
                get_extension: Some(host_get_extension),
                request_restart: Some(host_request_restart),
                request_process: Some(host_request_process),
                request_callback: Some(host_request_callback),
            },
            main_thread: thread::current().id(),
            restart_requested: AtomicBool::new(false),
            callback_requested: AtomicBool::new(false),
            latency_changes: AtomicUsize::new(0),
        });

        let c_id = CString::new(id).context("plugin ids contain no NUL byte")?;
        let factory = library.factory();
        let Some(create) = factory.create_plugin else {
            bail!("the plugin factory has no create_plugin");
        };
        // SAFETY: `host.clap_host` is initialised and outlives the plugin (destroyed in our
        // `Drop` before the `Arc` is released); `c_id` is NUL-terminated.
        let plugin = unsafe { create(factory, &host.clap_host, c_id.as_ptr()) };
        if plugin.is_null() {
            bail!("the factory could not create {id:?}");
        }
        let instance = Self {
            plugin,
            host,
            activation: None,
            _library: library.clone(),
        };
        let Some(init) = instance.vtable().init else {
            bail!("{id:?} has no init");
        };
        // SAFETY: first call after creation, on the main thread, as CLAP requires.
        if !unsafe { init(plugin) } {
            bail!("{id:?}: init returned false");
        }
        Ok(instance)
    }

    /// The plugin's function table.
    fn vtable(&self) -> &clap_plugin {
        // SAFETY: `plugin` is valid until `Drop`.
        unsafe { &*self.plugin }
    }

    /// The plugin's extension `id` as `T`, or `None` if it does not implement it.
    ///
    /// # Safety
    /// `T` must be the struct type CLAP defines for extension `id`.
    unsafe fn extension<T>(&self, id: &CStr) -> Option<&T> {
        let get = self.vtable().get_extension?;
        // SAFETY: `plugin` is valid; `id` is NUL-terminated.
        let ext = unsafe { get(self.plugin, id.as_ptr()) } as *const T;
        // SAFETY: a non-null extension pointer stays valid for the plugin's lifetime, and has
        // type `T` by the caller's contract.
        (!ext.is_null()).then(|| unsafe { &*ext })
    }

    /// The descriptor the plugin instance carries.
    pub fn descriptor(&self) -> PluginDescriptor {
        // SAFETY: a created plugin's descriptor stays valid for its lifetime.
        unsafe { read_descriptor(&*self.vtable().desc) }
    }

    /// The plugin's audio ports of one direction, or `None` without the audio-ports extension.
    pub fn audio_ports(&self, is_input: bool) -> Option<Vec<AudioPortInfo>> {
        // SAFETY: `CLAP_EXT_AUDIO_PORTS` is a `clap_plugin_audio_ports`.
        let ports = unsafe { self.extension::<clap_plugin_audio_ports>(CLAP_EXT_AUDIO_PORTS) }?;
        let (count, get) = (ports.count?, ports.get?);
        // SAFETY: main-thread call on a valid plugin.
        let count = unsafe { count(self.plugin, is_input) };
        let mut infos = Vec::new();
        for index in 0..count {
            // SAFETY: an all-zero `clap_audio_port_info` is valid (null pointer, zero numbers).
            let mut info: clap_audio_port_info = unsafe { std::mem::zeroed() };
            // SAFETY: `index` < count, `info` is writable; main-thread call.
            if !unsafe { get(self.plugin, index, is_input, &mut info) } {
                return None;
            }
            infos.push(AudioPortInfo {
                id: info.id,
                name: fixed_string(&info.name),
                channel_count: info.channel_count,
                is_main: info.flags & CLAP_AUDIO_PORT_IS_MAIN != 0,
                // SAFETY: `port_type` is null or a static NUL-terminated string.
                port_type: unsafe { c_string(info.port_type) },
            });
        }
        Some(infos)
    }

    /// Every parameter, in the plugin's order.
    pub fn params(&self) -> Vec<ParamInfo> {
        let Some(params) = self.params_ext() else {
            return Vec::new();
        };
        let (Some(count), Some(get_info)) = (params.count, params.get_info) else {
            return Vec::new();
        };
        // SAFETY: main-thread call on a valid plugin.
        let count = unsafe { count(self.plugin) };
        (0..count)
            .filter_map(|index| {
                // SAFETY: an all-zero `clap_param_info` is valid (null cookie, zero numbers).
                let mut info: clap_param_info = unsafe { std::mem::zeroed() };
                // SAFETY: `index` < count, `info` is writable; main-thread call.
                unsafe { get_info(self.plugin, index, &mut info) }.then(|| ParamInfo {
                    id: info.id,
                    name: fixed_string(&info.name),
                    module: fixed_string(&info.module),
                    min: info.min_value,
                    max: info.max_value,
                    default: info.default_value,
                    flags: info.flags,
                })
            })
            .collect()
    }

    /// The params extension.
    fn params_ext(&self) -> Option<&clap_plugin_params> {
        // SAFETY: `CLAP_EXT_PARAMS` is a `clap_plugin_params`.
        unsafe { self.extension::<clap_plugin_params>(CLAP_EXT_PARAMS) }
    }

    /// A parameter's current CLAP value.
    pub fn param_value(&self, param_id: u32) -> Option<f64> {
        let get_value = self.params_ext()?.get_value?;
        let mut value = 0.0;
        // SAFETY: main-thread call; `value` is writable.
        unsafe { get_value(self.plugin, param_id, &mut value) }.then_some(value)
    }

    /// How the plugin displays `value` of a parameter, e.g. `"-6.0 dB"`.
    pub fn param_value_to_text(&self, param_id: u32, value: f64) -> Option<String> {
        let value_to_text = self.params_ext()?.value_to_text?;
        let mut text = [0 as c_char; 256];
        // SAFETY: main-thread call; the buffer's capacity is passed along.
        unsafe {
            value_to_text(
                self.plugin,
                param_id,
                value,
                text.as_mut_ptr(),
                text.len() as u32,
            )
        }
        .then(|| fixed_string(&text))
    }

    /// The CLAP value the plugin parses `text` (e.g. `"-6 dB"`) into.
    pub fn param_text_to_value(&self, param_id: u32, text: &str) -> Option<f64> {
        let text_to_value = self.params_ext()?.text_to_value?;
        let text = CString::new(text).ok()?;
        let mut value = 0.0;
        // SAFETY: main-thread call; `text` is NUL-terminated and `value` writable.
        unsafe { text_to_value(self.plugin, param_id, text.as_ptr(), &mut value) }.then_some(value)
    }

    /// Sets parameters through `params.flush` while the plugin is inactive (when active, send
    /// the changes as events to `AudioThread::process` instead, as CLAP requires).
    pub fn set_params(&mut self, changes: &[ParamChange]) -> Result<()> {
        if self.activation.is_some() {
            bail!("set_params needs an inactive plugin; send events to process instead");
        }
        let Some(flush) = self.params_ext().and_then(|p| p.flush) else {
            bail!("the plugin has no params.flush");
        };
        let mut events = EventList::with_capacity(changes.len());
        events.fill(changes);
        let in_events = events.as_clap();
        let out_events = IGNORED_OUTPUT_EVENTS;
        // SAFETY: inactive plugin, so flush belongs on the main thread; both lists outlive the
        // call.
        unsafe { flush(self.plugin, &in_events, &out_events) };
        Ok(())
    }

    /// The latency the plugin reports, or `None` without the latency extension.
    pub fn latency(&self) -> Option<u32> {
        // SAFETY: `CLAP_EXT_LATENCY` is a `clap_plugin_latency`.
        let get = unsafe { self.extension::<clap_plugin_latency>(CLAP_EXT_LATENCY) }?.get?;
        // SAFETY: main-thread call on a valid plugin.
        Some(unsafe { get(self.plugin) })
    }

    /// How many times the plugin has told the host its latency changed.
    pub fn latency_changes(&self) -> usize {
        self.host.latency_changes.load(Ordering::SeqCst)
    }

    /// Switches realtime/offline rendering; `false` if the plugin refused or has no render
    /// extension. Set it while inactive: the mode takes effect at the next activation.
    pub fn set_render_mode(&mut self, mode: RenderMode) -> bool {
        // SAFETY: `CLAP_EXT_RENDER` is a `clap_plugin_render`.
        let Some(set) = (unsafe { self.extension::<clap_plugin_render>(CLAP_EXT_RENDER) })
            .and_then(|render| render.set)
        else {
            return false;
        };
        let mode = match mode {
            RenderMode::Realtime => CLAP_RENDER_REALTIME,
            RenderMode::Offline => CLAP_RENDER_OFFLINE,
        };
        // SAFETY: main-thread call on a valid plugin.
        unsafe { set(self.plugin, mode) }
    }

    /// The plugin's state, or `None` if saving failed or it has no state extension.
    pub fn save_state(&self) -> Option<Vec<u8>> {
        // SAFETY: `CLAP_EXT_STATE` is a `clap_plugin_state`.
        let save = unsafe { self.extension::<clap_plugin_state>(CLAP_EXT_STATE) }?.save?;
        let mut bytes: Vec<u8> = Vec::new();
        let stream = clap_ostream {
            ctx: &mut bytes as *mut Vec<u8> as *mut c_void,
            write: Some(ostream_write),
        };
        // SAFETY: main-thread call; `stream` and the vector behind it outlive the call.
        unsafe { save(self.plugin, &stream) }.then_some(bytes)
    }

    /// Loads `bytes` as the plugin's state; `false` if the plugin rejected them.
    pub fn load_state(&mut self, bytes: &[u8]) -> bool {
        // SAFETY: `CLAP_EXT_STATE` is a `clap_plugin_state`.
        let Some(load) = (unsafe { self.extension::<clap_plugin_state>(CLAP_EXT_STATE) })
            .and_then(|state| state.load)
        else {
            return false;
        };
        let mut reader = StreamReader { bytes, position: 0 };
        let stream = clap_istream {
            ctx: &mut reader as *mut StreamReader as *mut c_void,
            read: Some(istream_read),
        };
        // SAFETY: main-thread call; `stream` and the reader behind it outlive the call.
        unsafe { load(self.plugin, &stream) }
    }

    /// Activates the plugin for `sample_rate` and blocks of `min_frames..=max_frames`.
    ///
    /// A plugin may ask for a restart during activation (nice-plug does when activation changes
    /// the latency, which it may only report again after reactivating); like a DAW, this
    /// deactivates and activates once more in that case, and fails if it asks again.
    pub fn activate(&mut self, sample_rate: f64, min_frames: u32, max_frames: u32) -> Result<()> {
        if self.activation.is_some() {
            bail!("the plugin is already active");
        }
        self.host.restart_requested.store(false, Ordering::SeqCst);
        self.activate_once(sample_rate, min_frames, max_frames)?;
        if self.host.restart_requested.swap(false, Ordering::SeqCst) {
            self.deactivate();
            self.activate_once(sample_rate, min_frames, max_frames)?;
            if self.host.restart_requested.load(Ordering::SeqCst) {
                bail!("the plugin asked for a restart again right after being restarted");
            }
        }
        Ok(())
    }

    /// One `activate` call.
    fn activate_once(&mut self, sample_rate: f64, min_frames: u32, max_frames: u32) -> Result<()> {
        let Some(activate) = self.vtable().activate else {
            bail!("the plugin has no activate");
        };
        // SAFETY: main-thread call on an inactive plugin.
        if !unsafe { activate(self.plugin, sample_rate, min_frames, max_frames) } {
            bail!("activate({sample_rate} Hz, {min_frames}..={max_frames} frames) returned false");
        }
        self.activation = Some(Activation { max_frames });
        self.service_main_thread();
        Ok(())
    }

    /// Deactivates the plugin if it is active.
    pub fn deactivate(&mut self) {
        if self.activation.take().is_some()
            && let Some(deactivate) = self.vtable().deactivate
        {
            // SAFETY: main-thread call on an active plugin that is not processing (processing
            // only happens inside `run_audio_thread`, which has returned).
            unsafe { deactivate(self.plugin) };
        }
        self.service_main_thread();
    }

    /// Calls `on_main_thread` if the plugin asked for it.
    fn service_main_thread(&self) {
        if self.host.callback_requested.swap(false, Ordering::SeqCst)
            && let Some(on_main_thread) = self.vtable().on_main_thread
        {
            // SAFETY: called on the instance's main thread, as the plugin requested.
            unsafe { on_main_thread(self.plugin) };
        }
    }

    /// Runs `body` on a new audio thread with an [`AudioThread`] for processing (between
    /// `start_processing` and `stop_processing`), while this thread serves the plugin's
    /// main-thread callbacks and samples its latency. The plugin must be active.
    pub fn run_audio_thread<R: Send>(
        &mut self,
        body: impl FnOnce(&mut AudioThread) -> R + Send,
    ) -> Result<AudioRun<R>> {
        let Some(activation) = self.activation else {
            bail!("run_audio_thread needs an active plugin");
        };
        let inputs = self
            .audio_ports(true)
            .context("the plugin has no audio-ports extension")?;
        let outputs = self
            .audio_ports(false)
            .context("the plugin has no audio-ports extension")?;
        let mut audio = AudioThread {
            plugin: PluginPtr(self.plugin),
            inputs: PortBuffers::new(&inputs, activation.max_frames as usize),
            outputs: PortBuffers::new(&outputs, activation.max_frames as usize),
            events: EventList::with_capacity(1024),
            max_frames: activation.max_frames as usize,
            steady_time: 0,
            frames: 0,
        };
        self.host.restart_requested.store(false, Ordering::SeqCst);
        let first_latency = self.latency().unwrap_or(0);
        let (mut min_latency, mut max_latency) = (first_latency, first_latency);

        let value = thread::scope(|scope| {
            let worker = thread::Builder::new()
                .name("clap-audio".into())
                .spawn_scoped(scope, || audio.run(body))
                .expect("the OS can start a thread");
            while !worker.is_finished() {
                self.service_main_thread();
                let latency = self.latency().unwrap_or(0);
                min_latency = min_latency.min(latency);
                max_latency = max_latency.max(latency);
                thread::sleep(MAIN_THREAD_POLL);
            }
            worker
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })?;
        self.service_main_thread();
        let latency = self.latency().unwrap_or(0);
        Ok(AudioRun {
            value,
            min_latency: min_latency.min(latency),
            max_latency: max_latency.max(latency),
            restart_requested: self.host.restart_requested.load(Ordering::SeqCst),
        })
    }
}

impl Drop for PluginInstance {
    fn drop(&mut self) {
        self.deactivate();
        if let Some(destroy) = self.vtable().destroy {
            // SAFETY: inactive plugin, main thread, and never used again.
            unsafe { destroy(self.plugin) };
        }
    }
}

/// A plugin pointer the audio thread may carry.
#[derive(Clone, Copy)]
struct PluginPtr(*const clap_plugin);

// SAFETY: CLAP plugins are called from several threads by design; the audio thread only makes
// the audio-thread calls (`start_processing`, `process`, `stop_processing`).
unsafe impl Send for PluginPtr {}

/// The host's buffers for all ports of one direction, sized for the largest block, with the
/// `clap_audio_buffer`s that point into them.
struct PortBuffers {
    /// Sample storage: per port, per channel, `max_frames` samples.
    samples: Vec<Vec<Vec<f32>>>,
    /// Per port, the channel pointers into `samples` that `buffers` hand out; only held so
    /// they live as long as `buffers`.
    _channel_pointers: Vec<Vec<*mut f32>>,
    /// What `clap_process` points at: one `clap_audio_buffer` per port.
    buffers: Vec<clap_audio_buffer>,
}

impl PortBuffers {
    /// Zeroed buffers for `ports`, `max_frames` long. The inner vectors never reallocate
    /// afterwards, so the pointers stay valid when the struct moves.
    fn new(ports: &[AudioPortInfo], max_frames: usize) -> Self {
        let mut samples: Vec<Vec<Vec<f32>>> = ports
            .iter()
            .map(|port| vec![vec![0.0; max_frames]; port.channel_count as usize])
            .collect();
        let mut channel_pointers: Vec<Vec<*mut f32>> = samples
            .iter_mut()
            .map(|channels| channels.iter_mut().map(|c| c.as_mut_ptr()).collect())
            .collect();
        let buffers = channel_pointers
            .iter_mut()
            .map(|pointers| clap_audio_buffer {
                data32: pointers.as_mut_ptr(),
                data64: std::ptr::null_mut(),
                channel_count: pointers.len() as u32,
                latency: 0,
                constant_mask: 0,
            })
            .collect();
        Self {
            samples,
            _channel_pointers: channel_pointers,
            buffers,
        }
    }
}

/// The audio thread's handle on the plugin: processes blocks through host-owned buffers.
/// Everything it needs is allocated before processing starts, so `process` allocates nothing.
pub struct AudioThread {
    /// The plugin, used only for audio-thread calls.
    plugin: PluginPtr,
    /// Input port buffers the caller's samples are copied into.
    inputs: PortBuffers,
    /// Output port buffers the plugin writes.
    outputs: PortBuffers,
    /// The block's parameter events, in CLAP's layout.
    events: EventList,
    /// Largest block the plugin was activated for.
    max_frames: usize,
    /// Frames processed since `start_processing`, passed as `steady_time`.
    steady_time: i64,
    /// Length of the last processed block, for [`AudioThread::output`].
    frames: usize,
}

/// Calls `stop_processing` when dropped, so the plugin leaves the processing state even when
/// a test assertion on the audio thread panics.
struct ProcessingGuard(PluginPtr);

impl Drop for ProcessingGuard {
    fn drop(&mut self) {
        // SAFETY: the plugin is valid while its instance is borrowed by the run.
        if let Some(stop) = unsafe { (*self.0.0).stop_processing } {
            // SAFETY: audio-thread call after a successful `start_processing`.
            unsafe { stop(self.0.0) };
        }
    }
}

impl AudioThread {
    /// `start_processing`, `body`, `stop_processing`, on the current (audio) thread.
    fn run<R>(&mut self, body: impl FnOnce(&mut AudioThread) -> R) -> Result<R> {
        IS_AUDIO_THREAD.with(|flag| flag.set(true));
        // SAFETY: the plugin is valid while its instance is borrowed by the run.
        let vtable = unsafe { &*self.plugin.0 };
        let (Some(start), Some(_)) = (vtable.start_processing, vtable.process) else {
            bail!("the plugin lacks start_processing or process");
        };
        // SAFETY: audio-thread call on an active plugin.
        if !unsafe { start(self.plugin.0) } {
            bail!("start_processing returned false");
        }
        let _stop = ProcessingGuard(self.plugin);
        Ok(body(self))
    }

    /// Largest block `process` accepts (the activation's `max_frames`).
    pub fn max_frames(&self) -> usize {
        self.max_frames
    }

    /// Processes one block: copies `input` (one slice per channel of the main input port, all
    /// the same length, at most `max_frames`) in, sends `events` (sorted by time, inside the
    /// block), and calls `process`. Output buffers are filled with NaN first, so anything the
    /// plugin leaves unwritten shows up in the tests' finiteness checks.
    pub fn process(&mut self, input: &[&[f32]], events: &[ParamChange]) -> ProcessStatus {
        let frames = input.first().map_or(0, |c| c.len());
        assert!(
            frames > 0 && frames <= self.max_frames(),
            "block of {frames} frames"
        );
        assert!(input.iter().all(|c| c.len() == frames), "ragged input");
        assert!(
            events.windows(2).all(|w| w[0].time <= w[1].time)
                && events.iter().all(|e| (e.time as usize) < frames),
            "events must be sorted and inside the block"
        );
        if let Some(main_input) = self.inputs.samples.first_mut() {
            for (channel, samples) in main_input.iter_mut().enumerate() {
                match input.get(channel) {
                    Some(source) => samples[..frames].copy_from_slice(source),
                    None => samples[..frames].fill(0.0),
                }
            }
        }
        for channel in self.outputs.samples.iter_mut().flatten() {
            channel[..frames].fill(f32::NAN);
        }
        self.events.fill(events);
        let in_events = self.events.as_clap();
        let out_events = IGNORED_OUTPUT_EVENTS;
        let process = clap_process {
            steady_time: self.steady_time,
            frames_count: frames as u32,
            transport: std::ptr::null(),
            audio_inputs: self.inputs.buffers.as_ptr(),
            audio_outputs: self.outputs.buffers.as_mut_ptr(),
            audio_inputs_count: self.inputs.buffers.len() as u32,
            audio_outputs_count: self.outputs.buffers.len() as u32,
            in_events: &in_events,
            out_events: &out_events,
        };
        // SAFETY: the plugin is valid while its instance is borrowed by the run.
        let process_fn = unsafe { (*self.plugin.0).process }.expect("checked in `run`");
        // SAFETY: audio-thread call between start/stop_processing; every buffer holds at least
        // `frames` samples per channel, and the event lists outlive the call.
        let status = unsafe { process_fn(self.plugin.0, &process) };
        self.steady_time += frames as i64;
        self.frames = frames;
        match status {
            CLAP_PROCESS_ERROR => ProcessStatus::Error,
            CLAP_PROCESS_CONTINUE => ProcessStatus::Continue,
            CLAP_PROCESS_CONTINUE_IF_NOT_QUIET => ProcessStatus::ContinueIfNotQuiet,
            CLAP_PROCESS_TAIL => ProcessStatus::Tail,
            CLAP_PROCESS_SLEEP => ProcessStatus::Sleep,
            other => ProcessStatus::Unknown(other),
        }
    }

    /// The last block's samples of output `port`, `channel`.
    pub fn output(&self, port: usize, channel: usize) -> &[f32] {
        &self.outputs.samples[port][channel][..self.frames]
    }

    /// Number of output ports.
    pub fn output_ports(&self) -> usize {
        self.outputs.samples.len()
    }

    /// Number of channels of output `port`.
    pub fn output_channels(&self, port: usize) -> usize {
        self.outputs.samples[port].len()
    }
}

// SAFETY: the raw channel pointers point into the struct's own heap buffers, which move with
// it; the plugin pointer is only used for audio-thread calls (see `PluginPtr`).
unsafe impl Send for AudioThread {}

/// Parameter-value events laid out as CLAP reads them.
struct EventList {
    /// The events of the current block, sorted by time.
    events: Vec<clap_event_param_value>,
}

impl EventList {
    /// An empty list with room for `capacity` events, so filling it later does not allocate.
    fn with_capacity(capacity: usize) -> Self {
        Self {
            events: Vec::with_capacity(capacity),
        }
    }

    /// Replaces the events with `changes`.
    fn fill(&mut self, changes: &[ParamChange]) {
        self.events.clear();
        self.events
            .extend(changes.iter().map(|change| clap_event_param_value {
                header: clap_event_header {
                    size: std::mem::size_of::<clap_event_param_value>() as u32,
                    time: change.time,
                    space_id: CLAP_CORE_EVENT_SPACE_ID,
                    type_: CLAP_EVENT_PARAM_VALUE,
                    flags: 0,
                },
                param_id: change.param_id,
                cookie: std::ptr::null_mut(),
                note_id: -1,
                port_index: -1,
                channel: -1,
                key: -1,
                value: change.value,
            }));
    }

    /// The CLAP input-events view of this list; valid while `self` is neither moved nor
    /// changed.
    fn as_clap(&self) -> clap_input_events {
        clap_input_events {
            ctx: self as *const EventList as *mut c_void,
            size: Some(input_events_size),
            get: Some(input_events_get),
        }
    }
}

unsafe extern "C" fn input_events_size(list: *const clap_input_events) -> u32 {
    // SAFETY: `ctx` is the `EventList` that made this view and outlives the call.
    unsafe { (*((*list).ctx as *const EventList)).events.len() as u32 }
}

unsafe extern "C" fn input_events_get(
    list: *const clap_input_events,
    index: u32,
) -> *const clap_event_header {
    // SAFETY: `ctx` is the `EventList` that made this view and outlives the call.
    let events = unsafe { &(*((*list).ctx as *const EventList)).events };
    events
        .get(index as usize)
        .map_or(std::ptr::null(), |event| &event.header as *const _)
}

/// An output-event list that accepts and drops everything: Tessera sends no notes, and the
/// tests read parameter values back through `param_value` instead.
const IGNORED_OUTPUT_EVENTS: clap_output_events = clap_output_events {
    ctx: std::ptr::null_mut(),
    try_push: Some(output_events_try_push),
};

unsafe extern "C" fn output_events_try_push(
    _list: *const clap_output_events,
    _event: *const clap_event_header,
) -> bool {
    true
}

/// Appends at most [`STREAM_CHUNK_BYTES`] of `buffer` to the `Vec<u8>` behind `ctx`.
unsafe extern "C" fn ostream_write(
    stream: *const clap_ostream,
    buffer: *const c_void,
    size: u64,
) -> i64 {
    let size = (size as usize).min(STREAM_CHUNK_BYTES);
    // SAFETY: `ctx` is the vector `save_state` created for this call; the plugin guarantees
    // `buffer` holds `size` readable bytes.
    unsafe {
        let bytes = &mut *((*stream).ctx as *mut Vec<u8>);
        bytes.extend_from_slice(std::slice::from_raw_parts(buffer as *const u8, size));
    }
    size as i64
}

/// The read position in the bytes behind a `clap_istream`.
struct StreamReader<'a> {
    /// Everything the stream will deliver.
    bytes: &'a [u8],
    /// How much has been read.
    position: usize,
}

/// Copies at most [`STREAM_CHUNK_BYTES`] of what is left into `buffer`; 0 at the end.
unsafe extern "C" fn istream_read(
    stream: *const clap_istream,
    buffer: *mut c_void,
    size: u64,
) -> i64 {
    // SAFETY: `ctx` is the reader `load_state` created for this call.
    let reader = unsafe { &mut *((*stream).ctx as *mut StreamReader) };
    let rest = &reader.bytes[reader.position..];
    let count = rest.len().min(size as usize).min(STREAM_CHUNK_BYTES);
    // SAFETY: the plugin guarantees `buffer` has room for `size` >= `count` bytes.
    unsafe { std::ptr::copy_nonoverlapping(rest.as_ptr(), buffer as *mut u8, count) };
    reader.position += count;
    count as i64
}

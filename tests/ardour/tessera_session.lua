-- Drives headless Ardour (ardour7-lua, Dummy backend) for tests/tests/plugin_ardour.rs:
--
--   ardour7-lua tessera_session.lua create SESSION_DIR NAME RATE
--     a new session at RATE with one stereo track, "Song", that has Tessera (VST3) as its
--     first insert, saved; the test then writes the song's region into the session file.
--
--   ardour7-lua tessera_session.lua render SESSION_DIR NAME FRAMES RENDER...
--     loads the session and bounces the track through its processing (Tessera and the
--     fader, up to the main outputs) over frames [0, FRAMES) once per RENDER: "default" with
--     Tessera's parameters at their defaults, or a stem's name (e.g. "Vocals") with only that
--     stem soloed. Prints "rendered<TAB>RENDER<TAB>FILE<TAB>FILE" with the bounce's left and
--     right files.
--
-- Renders bounce rather than export: Ardour 7.3's export corrupts its own heap in about a
-- third of the runs here, with or without a plugin in the session (see the test's docs).
--
-- Prints what the test reports (parameters, latencies) and raises an error, naming what
-- went wrong, on any failure, so ardour7-lua exits with a non-zero status.

local mode = arg[1]

-- The track called "Song", its Tessera insert and the plugin in it.
local function tessera_insert()
	local route = Session:route_by_name("Song")
	assert(not route:isnil(), "the session has no track called Song")
	local insert = route:nth_plugin(0)
	assert(not insert:isnil(), "the track Song has no plugin")
	local plugin = insert:to_insert():plugin(0)
	assert(plugin:name() == "Tessera", "the track's first plugin is " .. plugin:name())
	return route:to_track(), insert, plugin
end

-- Index of the plugin's input parameter labelled `label`.
local function parameter_index(plugin, label)
	local labels = {}
	for i = 0, plugin:parameter_count() - 1 do
		if plugin:parameter_is_input(i) then
			if plugin:parameter_label(i) == label then
				return i
			end
			labels[#labels + 1] = plugin:parameter_label(i)
		end
	end
	error("Tessera has no parameter " .. label .. "; it has: " .. table.concat(labels, ", "))
end

if mode == "create" then
	local dir, name, rate = arg[2], arg[3], tonumber(arg[4])
	assert(create_session(dir, name, rate), "could not create the session " .. dir)
	local tracks = Session:new_audio_track(2, 2, nil, 1, "Song",
		ARDOUR.PresentationInfo.max_order, ARDOUR.TrackMode.Normal, true)
	assert(tracks:size() == 1, "could not add the track")
	local track = tracks:front()
	-- Strict I/O keeps the track stereo: the plugin's main output pair feeds the track's
	-- outputs and its four aux pairs (the stems) go nowhere.
	track:set_strict_io(true)
	local plugin = ARDOUR.LuaAPI.new_plugin(Session, "Tessera", ARDOUR.PluginType.VST3, "")
	assert(not plugin:isnil(), "Ardour knows no VST3 plugin called Tessera (was it indexed?)")
	assert(track:add_processor_by_index(plugin, 0, nil, true) == 0,
		"could not insert Tessera on the track")
	local _, insert, tessera = tessera_insert()
	for i = 0, tessera:parameter_count() - 1 do
		local _, descriptor = tessera:get_parameter_descriptor(i, ARDOUR.ParameterDescriptor())
		local range = descriptor[2]
		print(string.format("parameter %d: %s (%s, %g..%g, default %g)", i,
			tessera:parameter_label(i), tessera:parameter_is_input(i) and "input" or "output",
			range.lower, range.upper, range.normal))
	end
	print(string.format("plugin latency: %d samples", insert:signal_latency()))
	assert(Session:save_state("", false, false, false, false, false) == 0,
		"could not save the session")
elseif mode == "render" then
	local dir, name, frames = arg[2], arg[3], tonumber(arg[4])
	assert(load_session(dir, name), "could not load the session " .. dir)
	local track, insert, plugin = tessera_insert()
	print(string.format("plugin latency: %d samples; track latency: %d samples",
		insert:signal_latency(), track:signal_latency()))
	for i = 5, #arg do
		local render = arg[i]
		ARDOUR.LuaAPI.reset_processor_to_default(insert)
		if render ~= "default" then
			local solo = parameter_index(plugin, render .. " Solo")
			assert(ARDOUR.LuaAPI.set_processor_param(insert, solo, 1),
				"could not solo " .. render)
		end
		local region = track:bounce_range(0, frames, ARDOUR.InterThreadInfo(),
			track:main_outs(), false, render)
		assert(not region:isnil(), "the bounce of " .. render .. " failed")
		local channels = region:to_audioregion():n_channels()
		assert(channels == 2, "the bounce of " .. render .. " has " .. channels .. " channels")
		local files = {}
		for c = 0, channels - 1 do
			files[#files + 1] = region:source(c):to_filesource():path()
		end
		print("rendered\t" .. render .. "\t" .. table.concat(files, "\t"))
	end
else
	error("unknown mode " .. tostring(mode) .. "; expected create or render")
end

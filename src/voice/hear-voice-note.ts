import type { Transcriber } from '../ai/models.ts';
import { AppError } from '../app-error.ts';
import type { ChannelName, MediaFetcher } from '../channels/channel.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import type { ClaimedMessage, Inbox } from '../store/inbox.ts';
import { audioSeconds } from './audio-seconds.ts';

/**
 * The largest voice note each channel delivers: WhatsApp takes audio up to 16 MB (Cloud API and Twilio
 * alike), Twilio MMS 5 MB. OpenAI's transcription endpoint takes 25 MB, so the channel is the limit.
 */
export function maxVoiceBytes(channel: ChannelName, patient: string): number {
  return channel === 'twilio' && !patient.startsWith('whatsapp:') ? 5 * 1024 * 1024 : 16 * 1024 * 1024;
}

/** Why a voice note gets a fixed reply instead of an answer. */
export type VoiceProblem = 'offline' | 'too_long' | 'unreadable';

export type HeardVoiceNote = { transcript: string } | { problem: VoiceProblem };

export type VoiceListenerDependencies = {
  fetchers: Partial<Record<ChannelName, MediaFetcher>>;
  /** Absent in offline mode: voice notes then get the "please type" reply. */
  transcriber: Transcriber | undefined;
  maxSeconds: number;
  inbox: Pick<Inbox, 'media' | 'saveTranscript'>;
  metrics: Metrics;
  logger: Logger;
};

/**
 * A voice note as words: its audio downloaded from the provider into memory, its length checked, then
 * transcribed through the same OpenAI cap as every call. The transcript is stored as the message's body
 * and the message then goes on exactly as if typed (emergency recognition first). The audio is never
 * written to disk, nor logged. A failure another try may cure (a 5xx, a timeout) is thrown for the
 * worker to retry; one that would fail again becomes a problem with its own fixed reply.
 */
export function createVoiceListener(deps: VoiceListenerDependencies) {
  const { metrics } = deps;
  const problem = (outcome: VoiceProblem, log: Logger, reason: string): HeardVoiceNote => {
    metrics.voiceNotes.inc({ outcome });
    log.info({ outcome, reason }, 'voice note not transcribed');
    return { problem: outcome };
  };

  return async function hear(message: ClaimedMessage, log: Logger): Promise<HeardVoiceNote> {
    const fetcher = deps.fetchers[message.channel];
    if (!deps.transcriber || !fetcher) return problem('offline', log, deps.transcriber ? 'no credentials to download it' : 'no OPENAI_API_KEY');
    const media = await deps.inbox.media(message);
    if (!media) return problem('unreadable', log, 'its audio reference is gone');
    let transcript: string;
    let seconds: number | undefined;
    try {
      const audio = await fetcher.fetch(media, { maxBytes: maxVoiceBytes(message.channel, message.patient) });
      seconds = audioSeconds(audio.bytes);
      if (seconds !== undefined && seconds > deps.maxSeconds) return problem('too_long', log, `${Math.round(seconds)} s`);
      transcript = await deps.transcriber.transcribe(audio);
    } catch (error) {
      if (error instanceof AppError && error.code === 'media_too_large') return problem('too_long', log, error.message);
      if (error instanceof AppError && !error.retryable) return problem('unreadable', log, error.message);
      metrics.voiceNotes.inc({ outcome: 'failed' });
      throw error;
    }
    if (!transcript) return problem('unreadable', log, 'no words in it');
    await deps.inbox.saveTranscript(message.id, transcript);
    metrics.voiceNotes.inc({ outcome: 'transcribed' });
    log.info({ seconds: seconds === undefined ? undefined : Math.round(seconds) }, 'voice note transcribed');
    return { transcript };
  };
}

export type VoiceListener = ReturnType<typeof createVoiceListener>;

import type { ClinicDetails } from './clinic-text.ts';

/**
 * Replies that need no search and no model, in every language they are written in. A patient whose
 * language has none here gets English. Each one fits in SMS_MAX_SEGMENTS' default of 4 segments even in
 * UCS-2 (Spanish accents), since fixed replies are never cut: test/unit/fixed-replies.test.ts holds them to it.
 */
export type ReplyLanguage = 'en' | 'es';

export function replyLanguage(code: string | undefined): ReplyLanguage {
  return code === 'es' ? 'es' : 'en';
}

export function mediaReply(clinic: ClinicDetails, language: ReplyLanguage = 'en'): string {
  return language === 'es'
    ? `Por ahora solo puedo leer mensajes de texto; escriba su pregunta o llame a la clínica al ${clinic.phone}.`
    : `I can only read text messages for now; please type your question or call the clinic at ${clinic.phone}.`;
}

export function throttleNotice(clinic: ClinicDetails, language: ReplyLanguage = 'en'): string {
  return language === 'es'
    ? `Ha enviado muchos mensajes en poco tiempo; esperaré un minuto antes de responder más. Si es urgente, llame al ${clinic.phone}.`
    : `You've sent a lot of messages in a short time, so I'll pause for a minute before answering more. If it's urgent, please call ${clinic.phone}.`;
}

export function emergencyReply(clinic: ClinicDetails, category: 'medical' | 'self_harm', language: ReplyLanguage = 'en'): string {
  if (category === 'self_harm') {
    return language === 'es'
      ? `Siento mucho que esté pasando por esto. No tiene que afrontarlo a solas. Llame ahora a su número local de emergencias, ` +
          `a una línea de crisis o a la línea urgente de la clínica: ${clinic.emergencyPhone}. He avisado a nuestro equipo.`
      : `I'm so sorry you're going through this. You don't have to face it alone. Please call your local emergency number now, ` +
          `or a crisis line, or the clinic's urgent line at ${clinic.emergencyPhone}. I've let our team know you need help.`;
  }
  return language === 'es'
    ? `Esto podría ser urgente. Llame ahora a la línea de emergencias de ${clinic.name}: ${clinic.emergencyPhone}, o a su número local ` +
        `de emergencias si se encuentra muy mal. No espere una respuesta por mensaje. He avisado a nuestro equipo.`
    : `This could be urgent. Please call ${clinic.name}'s emergency line now at ${clinic.emergencyPhone}, or your local emergency number ` +
        `if you feel very unwell. Don't wait for a text reply. I've alerted our team.`;
}

export function handoffReply(clinic: ClinicDetails, language: ReplyLanguage = 'en'): string {
  return language === 'es'
    ? `Por supuesto. Una persona de nuestro equipo le responderá aquí lo antes posible. Si es urgente, llame al ${clinic.phone}.`
    : `Of course. A member of our team will reply to you here as soon as they can. If it's urgent, please call ${clinic.phone}.`;
}

/** Added to an answer about a symptom that did not sound like an emergency. */
export function symptomNudge(clinic: ClinicDetails, language: ReplyLanguage = 'en'): string {
  return language === 'es'
    ? `Si es abundante, intenso o va a peor, llame ahora al ${clinic.emergencyPhone} en lugar de esperar un mensaje.`
    : `If it is heavy, severe or getting worse, please call ${clinic.emergencyPhone} now rather than waiting for a text.`;
}

/** A voice note longer than VOICE_MAX_SECONDS (or larger than the channel takes). */
export function voiceTooLongReply(clinic: ClinicDetails, maxSeconds: number, language: ReplyLanguage = 'en'): string {
  const length = maxSeconds % 60 === 0 ? `${maxSeconds / 60} min` : `${maxSeconds} s`;
  return language === 'es'
    ? `Su nota de voz es más larga de lo que puedo escuchar (${length}). Envíe una más corta, escriba su pregunta o llame al ${clinic.phone}.`
    : `Your voice note is longer than I can listen to (${length}). Please send a shorter one, type your question, or call ${clinic.phone}.`;
}

/** A voice note that could not be downloaded or made into words. */
export function voiceUnreadableReply(clinic: ClinicDetails, language: ReplyLanguage = 'en'): string {
  return language === 'es'
    ? `No he podido entender su nota de voz. Escriba su pregunta o llame a la clínica al ${clinic.phone}.`
    : `Sorry, I couldn't make out your voice note. Please type your question or call the clinic at ${clinic.phone}.`;
}

/** Added to the answer to words sent with a photo, video or file, which the assistant cannot open. */
export function attachmentNote(language: ReplyLanguage = 'en'): string {
  return language === 'es'
    ? 'No puedo abrir fotos ni archivos, así que he respondido solo a lo que escribió.'
    : "I can't open photos or files, so I have answered only what you wrote.";
}

export function optOutReply(language: ReplyLanguage = 'en'): string {
  return language === 'es'
    ? 'No recibirá más mensajes nuestros. Responda START cuando quiera volver a recibirlos.'
    : "You won't get any more messages from us. Reply START at any time to hear from us again.";
}

export function optInReply(clinic: ClinicDetails, language: ReplyLanguage = 'en'): string {
  return language === 'es'
    ? `Hola de nuevo. Puede preguntarme sobre su tratamiento en ${clinic.name} cuando quiera.`
    : `Welcome back. You can ask me about treatment at ${clinic.name} at any time.`;
}

/** When a message cannot be answered at all (the pipeline itself failed): never silence. */
export function failureReply(clinic: ClinicDetails, language: ReplyLanguage = 'en'): string {
  return language === 'es'
    ? `Lo siento, ahora no puedo responder. Llame al ${clinic.phone} y el equipo le ayudará. Si es urgente, llame al ${clinic.emergencyPhone}.`
    : `Sorry, I can't answer right now. Please call ${clinic.phone} and the team will help. If it's urgent, call ${clinic.emergencyPhone}.`;
}

/** A conversation handed to a person went quiet for HANDOFF_TIMEOUT_HOURS: the assistant answers again. */
export function assistantBackReply(clinic: ClinicDetails, language: ReplyLanguage = 'en'): string {
  return language === 'es'
    ? `El asistente vuelve a responder a sus mensajes. Si todavía necesita hablar con alguien del equipo, escriba "persona" o llame al ${clinic.phone}.`
    : `The assistant is answering your messages again. If you still need a member of our team, reply "person", or call ${clinic.phone}.`;
}
